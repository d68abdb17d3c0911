"""What the manager hands back: an issued key (with its secret, once) and pages of keys."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import overload

from policyengine.db.pages import decode_position, encode_position
from policyengine.errors import KeyRequestError
from policyengine.keys import codec
from policyengine.record import KEY_ID, KeyRecord


@dataclass(frozen=True, slots=True)
class IssuedKey:
    """A key just created: ``secret`` is the whole key, shown to the caller this once and
    stored nowhere; ``key`` is its record. The secret is left out of ``repr`` so that a
    stray log line does not leak it."""

    secret: str = field(repr=False)
    key: KeyRecord


@dataclass(frozen=True, slots=True)
class KeyPage(Sequence[KeyRecord]):
    """One page of :meth:`~policyengine.keys.manager.KeyManager.list`; iterate it like a
    list of records."""

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
    return encode_position(codec.to_micros(last.created_at), last.id)


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    position = decode_position(cursor) if isinstance(cursor, str) else None
    if position is not None and KEY_ID.fullmatch(position[1]):
        try:
            return codec.from_micros(position[0]), position[1]
        except OverflowError:
            pass
    raise KeyRequestError("invalid cursor: pass the next_cursor of a previous page unchanged")
