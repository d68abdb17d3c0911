"""The delivery log in SQL: SQLite (one machine) and PostgreSQL (several instances).

The schema is versioned under its own component in ``policyengine_migrations``
(:mod:`policyengine.db`), so it can share a database with the key store. Claiming is one
transaction: in PostgreSQL the due rows are locked ``FOR UPDATE SKIP LOCKED``, so that
workers of several processes each take different deliveries without waiting on each
other; SQLite's write lock serialises claims.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import cast

from policyengine.db import Database, Migration, Row, Run, open_schema, schema_version
from policyengine.errors import StorageError
from policyengine.keys.codec import from_micros, optional_micros, optional_moment, to_micros
from policyengine.monitor.delivery_log import (
    DELIVERY_STATES,
    NOUN,
    Attempt,
    Claim,
    Delivery,
    DeliveryError,
    DeliveryNotFound,
    DeliveryQuery,
    DeliveryState,
    Outcome,
)

COMPONENT = "deliveries"
TABLE = "policyengine_deliveries"
ATTEMPTS = "policyengine_delivery_attempts"

MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "create the delivery log",
        (
            f"""CREATE TABLE {TABLE} (
                id TEXT PRIMARY KEY,
                target TEXT NOT NULL,
                url TEXT NOT NULL,
                event_type TEXT NOT NULL,
                body TEXT NOT NULL,
                state TEXT NOT NULL,
                created_at BIGINT NOT NULL,
                next_attempt_at BIGINT,
                delivered_at BIGINT,
                tries INTEGER NOT NULL,
                attempt_count INTEGER NOT NULL,
                lease_owner TEXT,
                lease_until BIGINT
            )""",
            f"CREATE INDEX {TABLE}_due ON {TABLE} (state, next_attempt_at)",
            f"CREATE INDEX {TABLE}_newest ON {TABLE} (created_at DESC, id DESC)",
            f"CREATE INDEX {TABLE}_target ON {TABLE} (target, created_at DESC, id DESC)",
            f"""CREATE TABLE {ATTEMPTS} (
                delivery_id TEXT NOT NULL REFERENCES {TABLE} (id) ON DELETE CASCADE,
                number INTEGER NOT NULL,
                started_at BIGINT NOT NULL,
                duration_us BIGINT NOT NULL,
                status INTEGER,
                error TEXT,
                PRIMARY KEY (delivery_id, number)
            )""",
        ),
    ),
)

# Statements are assembled from the constant names above, never from input, which is
# always passed as parameters: hence the ``noqa: S608`` marks.
_FIELDS = (
    "id", "target", "url", "event_type", "body", "state", "created_at", "next_attempt_at",
    "delivered_at", "tries",
)  # fmt: skip
_COLUMNS = ", ".join(_FIELDS)
_WAITING = "state IN ('pending', 'retrying')"
_INSERT = (
    f"INSERT INTO {TABLE} ({_COLUMNS}, attempt_count) "  # noqa: S608
    f"VALUES ({', '.join('?' for _ in _FIELDS)}, 0) ON CONFLICT (id) DO NOTHING"
)
_DUE = (
    f"SELECT {_COLUMNS} FROM {TABLE} WHERE {_WAITING} AND next_attempt_at <= ? "  # noqa: S608
    "AND (lease_until IS NULL OR lease_until <= ?) ORDER BY next_attempt_at, id LIMIT ?"
)
_LEASE = f"UPDATE {TABLE} SET lease_owner = ?, lease_until = ? WHERE id = ?"  # noqa: S608
_COUNT_ATTEMPT = f"UPDATE {TABLE} SET attempt_count = attempt_count + 1 WHERE id = ?"  # noqa: S608
_ATTEMPT_NUMBER = f"SELECT attempt_count FROM {TABLE} WHERE id = ?"  # noqa: S608
_LOG_ATTEMPT = (
    f"INSERT INTO {ATTEMPTS} (delivery_id, number, started_at, duration_us, status, error) "  # noqa: S608
    "VALUES (?, ?, ?, ?, ?, ?)"
)
_SETTLE = (
    f"UPDATE {TABLE} SET state = ?, tries = ?, next_attempt_at = ?, delivered_at = ?, "  # noqa: S608
    "lease_owner = NULL, lease_until = NULL WHERE id = ? AND lease_owner = ?"
)
_RELEASE = (
    f"UPDATE {TABLE} SET lease_owner = NULL, lease_until = NULL "  # noqa: S608
    "WHERE id = ? AND lease_owner = ?"
)
_REQUEUE = (
    f"UPDATE {TABLE} SET state = 'pending', tries = 0, next_attempt_at = ?, "  # noqa: S608
    "delivered_at = NULL, lease_owner = NULL, lease_until = NULL WHERE id = ?"
)
_NEXT_DUE = (
    "SELECT min(CASE WHEN lease_until IS NOT NULL AND lease_until > next_attempt_at "  # noqa: S608
    f"THEN lease_until ELSE next_attempt_at END) FROM {TABLE} WHERE {_WAITING}"
)
_OLD = "WHERE state IN ('delivered', 'dead') AND created_at < ?"
_ATTEMPT_COLUMNS = "delivery_id, number, started_at, duration_us, status, error"


class SqlDeliveryLog:
    """The delivery log in a SQL database. ``skip_locked`` (PostgreSQL) makes a claim lock
    the rows it takes and pass over those that another claim holds."""

    def __init__(self, database: Database, *, skip_locked: bool = False) -> None:
        self._database = database
        self._claim_lock = " FOR UPDATE SKIP LOCKED" if skip_locked else ""
        self._row_lock = " FOR UPDATE" if skip_locked else ""
        open_schema(database, COMPONENT, MIGRATIONS, NOUN)

    def _transaction(self, write: bool) -> AbstractContextManager[Run]:
        return self._database.transaction(write)

    def schema_version(self) -> int:
        with self._transaction(write=False) as run:
            return schema_version(run, COMPONENT)

    def close(self) -> None:
        self._database.close()

    def add(self, delivery: Delivery) -> bool:
        with self._transaction(write=True) as run:
            _, count = run(_INSERT, _values(delivery))
        return count == 1

    def claim(self, now: datetime, lease_until: datetime, owner: str, limit: int) -> list[Claim]:
        with self._transaction(write=True) as run:
            rows, _ = run(_DUE + self._claim_lock, (to_micros(now), to_micros(now), limit))
            for row in rows:
                run(_LEASE, (owner, to_micros(lease_until), row[0]))
        return [Claim(_delivery(row), owner, lease_until) for row in rows]

    def finish(self, claim: Claim, attempt: Attempt, outcome: Outcome) -> None:
        delivery_id = claim.delivery.id
        with self._transaction(write=True) as run:
            # The increment locks the row, so that concurrent attempts get distinct numbers.
            _, found = run(_COUNT_ATTEMPT, (delivery_id,))
            if found != 1:
                return
            rows, _ = run(_ATTEMPT_NUMBER, (delivery_id,))
            run(
                _LOG_ATTEMPT,
                (
                    delivery_id,
                    int(rows[0][0]),
                    to_micros(attempt.started_at),
                    round(attempt.duration * 1_000_000),
                    attempt.status,
                    attempt.error,
                ),
            )
            run(
                _SETTLE,
                (
                    outcome.state,
                    outcome.tries,
                    optional_micros(outcome.next_attempt_at),
                    optional_micros(outcome.delivered_at),
                    delivery_id,
                    claim.owner,
                ),
            )

    def release(self, claims: Sequence[Claim]) -> None:
        if not claims:
            return
        with self._transaction(write=True) as run:
            for claim in sorted(claims, key=lambda claim: claim.delivery.id):
                run(_RELEASE, (claim.delivery.id, claim.owner))

    def requeue(self, delivery_id: str, now: datetime) -> Delivery:
        with self._transaction(write=True) as run:
            rows, _ = run(
                f"SELECT lease_until FROM {TABLE} WHERE id = ?{self._row_lock}",  # noqa: S608
                (delivery_id,),
            )
            if not rows:
                raise DeliveryNotFound(f"no delivery {delivery_id!r}")
            if rows[0][0] is not None and int(rows[0][0]) > to_micros(now):
                raise DeliveryError(
                    f"delivery {delivery_id!r} is being attempted now; replay it afterwards"
                )
            run(_REQUEUE, (to_micros(now), delivery_id))
            return _read(run, [delivery_id])[0]

    def get(self, delivery_id: str) -> Delivery | None:
        with self._transaction(write=False) as run:
            found = _read(run, [delivery_id])
        return found[0] if found else None

    def list(self, query: DeliveryQuery) -> Sequence[Delivery]:
        where: list[str] = []
        params: list[object] = []
        for column, wanted in (("target", query.target), ("state", query.state)):
            if wanted is not None:
                where.append(f"{column} = ?")
                params.append(wanted)
        if query.after is not None:
            created, delivery_id = to_micros(query.after[0]), query.after[1]
            where.append("(created_at < ? OR (created_at = ? AND id < ?))")
            params.extend([created, created, delivery_id])
        condition = f" WHERE {' AND '.join(where)}" if where else ""
        with self._transaction(write=False) as run:
            rows, _ = run(
                f"SELECT id FROM {TABLE}{condition} "  # noqa: S608
                "ORDER BY created_at DESC, id DESC LIMIT ?",
                [*params, query.limit],
            )
            return _read(run, [str(row[0]) for row in rows])

    def counts(self, target: str | None) -> Mapping[DeliveryState, int]:
        condition, params = (" WHERE target = ?", (target,)) if target is not None else ("", ())
        with self._transaction(write=False) as run:
            rows, _ = run(
                f"SELECT state, count(*) FROM {TABLE}{condition} GROUP BY state",  # noqa: S608
                params,
            )
        counts = dict.fromkeys(DELIVERY_STATES, 0)
        for state, count in rows:
            if state in counts:
                counts[state] = int(count)
        return counts

    def next_due(self) -> datetime | None:
        with self._transaction(write=False) as run:
            rows, _ = run(_NEXT_DUE, ())
        return optional_moment(rows[0][0])

    def prune(self, before: datetime) -> int:
        with self._transaction(write=True) as run:
            # Attempts first: SQLite does not enforce the foreign key's cascade by default.
            run(
                f"DELETE FROM {ATTEMPTS} WHERE delivery_id IN "  # noqa: S608
                f"(SELECT id FROM {TABLE} {_OLD})",
                (to_micros(before),),
            )
            _, count = run(f"DELETE FROM {TABLE} {_OLD}", (to_micros(before),))  # noqa: S608
        return count


def _read(run: Run, ids: Sequence[str]) -> list[Delivery]:
    """The deliveries with these ids and their attempts, in the order of ``ids``."""
    if not ids:
        return []
    marks = ", ".join("?" for _ in ids)
    rows, _ = run(f"SELECT {_COLUMNS} FROM {TABLE} WHERE id IN ({marks})", ids)  # noqa: S608
    tried, _ = run(
        f"SELECT {_ATTEMPT_COLUMNS} FROM {ATTEMPTS} "  # noqa: S608
        f"WHERE delivery_id IN ({marks}) ORDER BY delivery_id, number",
        ids,
    )
    attempts: dict[str, list[Attempt]] = {}
    for delivery_id, number, started, duration, status, error in tried:
        attempts.setdefault(str(delivery_id), []).append(
            Attempt(int(number), from_micros(started), duration / 1_000_000, status, error)
        )
    found = {str(row[0]): _delivery(row, tuple(attempts.get(str(row[0]), ()))) for row in rows}
    return [found[delivery_id] for delivery_id in ids if delivery_id in found]


def _values(delivery: Delivery) -> list[object]:
    return [
        delivery.id,
        delivery.target,
        delivery.url,
        delivery.event_type,
        delivery.body,
        delivery.state,
        to_micros(delivery.created_at),
        optional_micros(delivery.next_attempt_at),
        optional_micros(delivery.delivered_at),
        delivery.tries,
    ]


def _delivery(row: Row, attempts: tuple[Attempt, ...] = ()) -> Delivery:
    try:
        delivery_id, target, url, event_type, body, state, created, due, delivered, tries = row
        if state not in DELIVERY_STATES:
            raise ValueError(f"unknown state {state!r}")
        return Delivery(
            id=str(delivery_id),
            target=str(target),
            url=str(url),
            event_type=str(event_type),
            body=str(body),
            state=cast(DeliveryState, state),
            created_at=from_micros(created),
            next_attempt_at=optional_moment(due),
            delivered_at=optional_moment(delivered),
            tries=int(tries),
            attempts=attempts,
        )
    except (TypeError, ValueError) as error:
        raise StorageError(f"the stored delivery {row[0]!r} is unreadable: {error}") from None
