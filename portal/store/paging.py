"""Newest-first pages over any table with a creation time and an id, with the same opaque
cursors as the key list."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar

from policyengine.db import Row, Run
from policyengine.db.pages import encode_position
from policyengine.keys.codec import to_micros
from policyengine.keys.pages import decode_cursor
from portal.models.common import Page

T = TypeVar("T")


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
