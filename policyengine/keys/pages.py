"""What the manager hands back: an issued key (with its secret, once) and pages of keys."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import overload

from policyengine.errors import KeyRequestError
from policyengine.keys import codec
from policyengine.record import KeyRecord


@dataclass(frozen=True, slots=True)
class IssuedKey:
    """A key just created: ``secret`` is the whole key, shown to the caller this once and
    stored nowhere; ``key`` is its record. The secret is left out of ``repr`` so that a
    stray log line does not leak it."""

    secret: str = field(repr=False)
    key: KeyRecord


@dataclass(frozen=True, slots=True)
class KeyPage(Sequence[KeyRecord]):
    """One page of :meth:`KeyManager.list`; iterate it like a list of records."""

    keys: tuple[KeyRecord, ...]
    #: Pass to ``list(cursor=…)`` for the next page; ``None`` on the last page.
    next_cursor: str | None = None

    @overload
    def __getitem__(self, index: int) -> KeyRecord: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[KeyRecord]: ...

    def __getitem__(self, index: int | slice) -> KeyRecord | Sequence[KeyRecord]:
        return self.keys[index]

    def __len__(self) -> int:
        return len(self.keys)


def encode_cursor(last: KeyRecord) -> str:
    """Where the next page starts: after ``last`` in newest-first order. Opaque to callers."""
    raw = json.dumps([codec.to_micros(last.created_at), last.id], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        created, key_id = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if not isinstance(created, int) or not isinstance(key_id, str):
            raise ValueError(cursor)
        return codec.from_micros(created), key_id
    except (ValueError, TypeError, binascii.Error, OverflowError, AttributeError):
        raise KeyRequestError(
            "invalid cursor: pass the next_cursor of a previous page unchanged"
        ) from None
