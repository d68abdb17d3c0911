"""``WHERE`` clauses built from a query's filters, with ``?`` parameters: one way for every
store's lists to filter, and to page newest first by ``(time, id)``."""

from __future__ import annotations

from collections.abc import Sequence


class Where:
    def __init__(self) -> None:
        self.clauses: list[str] = []
        self.params: list[object] = []

    def add(self, clause: str, *params: object) -> Where:
        self.clauses.append(clause)
        self.params.extend(params)
        return self

    def given(self, clause: str, value: object) -> Where:
        """``clause`` with ``value`` as its one parameter, unless ``value`` is ``None``."""
        return self if value is None else self.add(clause, value)

    def one_of(self, column: str, values: Sequence[object]) -> Where:
        """``column IN (…)``, unless ``values`` is empty (then no filter)."""
        if not values:
            return self
        return self.add(f"{column} IN ({', '.join('?' for _ in values)})", *values)

    def before(self, time: str, ident: str, position: tuple[object, object] | None) -> Where:
        """Rows that come after ``position`` (the previous page's last ``(time, id)``) in
        newest-first order."""
        if position is None:
            return self
        at, last = position
        return self.add(f"({time} < ? OR ({time} = ? AND {ident} < ?))", at, at, last)

    def sql(self) -> str:
        return f" WHERE {' AND '.join(self.clauses)}" if self.clauses else ""
