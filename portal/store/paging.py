"""Newest-first pages over any table with a creation time and an id, with the same opaque
cursors as the key list."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar

from policyengine.db import Row, Run
from policyengine.db.pages import decode_position, encode_position
from policyengine.keys.codec import from_micros, to_micros
from portal.models.common import Page

T = TypeVar("T")

#: Longest id a cursor may carry (a member's user id is the longest the API takes).
_LONGEST_ID = 256


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    """The ``(created_at, id)`` a cursor of :class:`Listing` points after; ``ValueError``
    for anything that is not one (the API answers it as an invalid ``cursor``)."""
    position = decode_position(cursor)
    if position is not None and 0 < len(position[1]) <= _LONGEST_ID:
        try:
            return from_micros(position[0]), position[1]
        except OverflowError:
            pass
    raise ValueError("invalid cursor: pass the next_cursor of a previous page unchanged")


@dataclass(frozen=True, slots=True)
class Listing(Generic[T]):
    """How one table is listed: newest first by ``created_at``, then by ``ident``."""

    table: str
    columns: str
    convert: Callable[[Row], T]
    #: ``(created_at, id)`` of an item: where the page after it starts.
    position: Callable[[T], tuple[datetime, str]]
    ident: str = "id"

    def page(
        self,
        run: Run,
        limit: int,
        cursor: str | None,
        where: str = "1 = 1",
        params: Sequence[object] = (),
    ) -> Page[T]:
        """Up to ``limit`` rows that match ``where``, after ``cursor``."""
        after, after_params = "", []
        if cursor is not None:
            moment, last = decode_cursor(cursor)
            micros = to_micros(moment)
            after = f" AND (created_at < ? OR (created_at = ? AND {self.ident} < ?))"
            after_params = [micros, micros, last]
        # One row more than asked says whether another page follows.
        rows, _ = run(
            f"SELECT {self.columns} FROM {self.table} WHERE {where}{after} "  # noqa: S608
            f"ORDER BY created_at DESC, {self.ident} DESC LIMIT ?",
            [*params, *after_params, limit + 1],
        )
        items = [self.convert(row) for row in rows[:limit]]
        more = len(rows) > limit
        return Page[T](data=items, next_cursor=self._cursor(items[-1]) if more else None)

    def _cursor(self, last: T) -> str:
        created, ident = self.position(last)
        return encode_position(to_micros(created), ident)
