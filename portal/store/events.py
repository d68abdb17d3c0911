"""Events and their members in the database. Deleting an event deletes its members in the
same transaction; a change is validated as a whole before it is written."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from policyengine.db import Database, Row, Run
from policyengine.keys.codec import from_micros, to_micros
from portal.models.common import Page
from portal.models.events import Event, EventChanges, EventFields, Member, Role
from portal.store.database import Clock, new_id, written
from portal.store.paging import Listing

_EVENT_COLUMNS = (
    "id, name, description, starts_at, starts_offset, ends_at, ends_offset, location, "
    "created_at, updated_at, created_by"
)
_MEMBER_COLUMNS = "event_id, user_id, role, created_at, updated_at"


def _instant(micros: int, offset: int) -> datetime:
    return from_micros(micros).astimezone(timezone(timedelta(seconds=offset)))


def _offset(moment: datetime) -> int:
    delta = moment.utcoffset()
    return int(delta.total_seconds()) if delta is not None else 0


def _event(row: Row) -> Event:
    return Event(
        id=row[0],
        name=row[1],
        description=row[2],
        starts_at=_instant(row[3], row[4]),
        ends_at=_instant(row[5], row[6]),
        location=row[7],
        created_at=from_micros(row[8]),
        updated_at=from_micros(row[9]),
        created_by=row[10],
    )


def _member(row: Row) -> Member:
    return Member(
        event_id=row[0],
        user=row[1],
        role=row[2],
        created_at=from_micros(row[3]),
        updated_at=from_micros(row[4]),
    )


_EVENTS = Listing("tdoc_events", _EVENT_COLUMNS, _event, lambda e: (e.created_at, e.id))
_MEMBERS = Listing(
    "tdoc_members", _MEMBER_COLUMNS, _member, lambda m: (m.created_at, m.user), ident="user_id"
)


def _fields(fields: EventFields) -> list[object]:
    return [
        fields.name,
        fields.description,
        to_micros(fields.starts_at),
        _offset(fields.starts_at),
        to_micros(fields.ends_at),
        _offset(fields.ends_at),
        fields.location,
    ]


class EventStore:
    def __init__(self, database: Database, clock: Clock) -> None:
        self._db = database
        self._clock = clock

    def create(self, fields: EventFields, created_by: str) -> Event:
        now = to_micros(self._clock())
        event_id = new_id("evt")
        with self._db.transaction(write=True) as run:
            run(
                f"INSERT INTO tdoc_events ({_EVENT_COLUMNS}) "  # noqa: S608
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [event_id, *_fields(fields), now, now, created_by],
            )
            return written(self._get(run, event_id), event_id)

    def get(self, event_id: str) -> Event | None:
        with self._db.transaction(write=False) as run:
            return self._get(run, event_id)

    def list(self, limit: int, cursor: str | None) -> Page[Event]:
        with self._db.transaction(write=False) as run:
            return _EVENTS.page(run, limit, cursor)

    def update(self, event_id: str, changes: EventChanges) -> Event | None:
        """The event with ``changes`` applied, or ``None`` if there is no such event.
        The whole changed event is validated like a new one (``ValidationError``)."""
        with self._db.transaction(write=True) as run:
            current = self._get(run, event_id)
            if current is None:
                return None
            merged = current.model_dump(include=set(EventFields.model_fields))
            merged.update(changes.model_dump(exclude_unset=True))
            fields = EventFields.model_validate(merged)
            run(
                "UPDATE tdoc_events SET name = ?, description = ?, starts_at = ?, "
                "starts_offset = ?, ends_at = ?, ends_offset = ?, location = ?, updated_at = ? "
                "WHERE id = ?",
                [*_fields(fields), to_micros(self._clock()), event_id],
            )
            return self._get(run, event_id)

    def delete(self, event_id: str) -> bool:
        with self._db.transaction(write=True) as run:
            run("DELETE FROM tdoc_members WHERE event_id = ?", (event_id,))
            _, count = run("DELETE FROM tdoc_events WHERE id = ?", (event_id,))
        return count == 1

    def members(self, event_id: str, limit: int, cursor: str | None) -> Page[Member] | None:
        with self._db.transaction(write=False) as run:
            if self._get(run, event_id) is None:
                return None
            return _MEMBERS.page(run, limit, cursor, "event_id = ?", (event_id,))

    def put_member(self, event_id: str, user: str, role: Role) -> tuple[Member, bool] | None:
        """The member as now stored and whether it is new; ``None`` without the event."""
        now = to_micros(self._clock())
        with self._db.transaction(write=True) as run:
            if self._get(run, event_id) is None:
                return None
            _, changed = run(
                "UPDATE tdoc_members SET role = ?, updated_at = ? "
                "WHERE event_id = ? AND user_id = ?",
                (role, now, event_id, user),
            )
            if not changed:
                run(
                    f"INSERT INTO tdoc_members ({_MEMBER_COLUMNS}) "  # noqa: S608
                    "VALUES (?, ?, ?, ?, ?)",
                    (event_id, user, role, now, now),
                )
            rows, _ = run(
                f"SELECT {_MEMBER_COLUMNS} FROM tdoc_members "  # noqa: S608
                "WHERE event_id = ? AND user_id = ?",
                (event_id, user),
            )
        return _member(rows[0]), not changed

    def remove_member(self, event_id: str, user: str) -> bool:
        with self._db.transaction(write=True) as run:
            _, count = run(
                "DELETE FROM tdoc_members WHERE event_id = ? AND user_id = ?", (event_id, user)
            )
        return count == 1

    @staticmethod
    def _get(run: Run, event_id: str) -> Event | None:
        rows, _ = run(
            f"SELECT {_EVENT_COLUMNS} FROM tdoc_events WHERE id = ?",  # noqa: S608
            (event_id,),
        )
        return _event(rows[0]) if rows else None
