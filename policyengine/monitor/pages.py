"""What the monitor's queries return: pages of items, and how their arguments are checked."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar, overload

from policyengine.db.pages import decode_position, encode_position
from policyengine.decision import Code
from policyengine.errors import MonitorError
from policyengine.keys.codec import to_micros
from policyengine.record import KEY_ID

T = TypeVar("T")

DEFAULT_LIMIT = 50
MAX_LIMIT = 1000


@dataclass(frozen=True, slots=True)
class Page(Sequence[T], Generic[T]):
    """One page of a query, newest first; iterate it like a list."""

    items: tuple[T, ...]
    #: Pass as ``cursor=`` for the next page; ``None`` on the last page.
    next_cursor: str | None = None

    @overload
    def __getitem__(self, index: int) -> T: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[T]: ...

    def __getitem__(self, index: int | slice) -> T | Sequence[T]:
        return self.items[index]

    def __len__(self) -> int:
        return len(self.items)


def page_of(found: Sequence[T], limit: int, position: tuple[int, str] | None) -> Page[T]:
    """The first ``limit`` of ``found`` (which holds one more when another page exists)."""
    items = tuple(found[:limit])
    if len(found) > limit and position is not None:
        return Page(items, encode_position(*position))
    return Page(items)


def position(at: datetime, item_id: str) -> tuple[int, str]:
    return to_micros(at), item_id


def check_limit(limit: int) -> int:
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise MonitorError(f"limit must be a whole number from 1 to {MAX_LIMIT}")
    return limit


def check_cursor(cursor: str | None) -> tuple[int, str] | None:
    if cursor is None:
        return None
    found = decode_position(cursor) if isinstance(cursor, str) else None
    if found is None:
        raise MonitorError("invalid cursor: pass the next_cursor of a previous page unchanged")
    return found


def check_moment(moment: datetime | None, name: str) -> datetime | None:
    if moment is None:
        return None
    if not isinstance(moment, datetime) or moment.tzinfo is None:
        raise MonitorError(f"{name} must be a timezone-aware datetime")
    return moment


def check_range(since: datetime | None, until: datetime | None) -> None:
    check_moment(since, "since")
    check_moment(until, "until")
    if since is not None and until is not None and since > until:
        raise MonitorError("since must not be later than until")


def check_key_id(key_id: str) -> str:
    if not isinstance(key_id, str) or not KEY_ID.fullmatch(key_id):
        # Never echo it: it may be a secret pasted in the wrong place.
        raise MonitorError("not a key id: key ids are key_ followed by 20 letters and digits")
    return key_id


def check_codes(code: str | Iterable[str] | None) -> tuple[str, ...]:
    if code is None:
        return ()
    codes = (code,) if isinstance(code, str) else tuple(code)
    known = [c.value for c in Code]
    for given in codes:
        if given not in known:
            raise MonitorError(f"unknown decision code {given!r}: use one of {', '.join(known)}")
    return tuple(str(c) for c in codes)
