"""The monitor's tables in SQLite or PostgreSQL: one schema, one set of queries.

As in the key store, times are integer microseconds since the epoch and structured values
JSON text; the migrations run under the component name ``monitor`` in the shared
``policyengine_migrations`` table.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from policyengine.db import Database, Migration, Row, open_schema
from policyengine.db.postgres import PostgresDatabase
from policyengine.db.sqlite import SqliteDatabase, sqlite_path
from policyengine.decision import Code
from policyengine.errors import StorageError
from policyengine.keys.codec import from_micros, to_micros
from policyengine.monitor.records import DecisionRecord, Headroom
from policyengine.monitor.store import Batch, DecisionQuery, UsageQuery, register_scheme
from policyengine.monitor.usage import Bucket, UsagePoint, point

COMPONENT = "monitor"
DECISIONS = "policyengine_decisions"
USAGE = "policyengine_usage"
DENIALS = "policyengine_usage_denials"

MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "create the decision records",
        (
            # No primary key: ids are unique by construction, and every index costs each
            # of the many inserts; the key's index orders (and so pages) by time and id.
            f"""CREATE TABLE {DECISIONS} (
                id TEXT NOT NULL,
                at BIGINT NOT NULL,
                request_id TEXT NOT NULL,
                code TEXT NOT NULL,
                step TEXT NOT NULL,
                reason TEXT NOT NULL,
                credential TEXT NOT NULL,
                key_id TEXT,
                key_type TEXT,
                key_environment TEXT,
                method TEXT,
                path TEXT,
                resource TEXT,
                action TEXT,
                client TEXT,
                rule TEXT,
                rule_location TEXT,
                error TEXT,
                latency_us BIGINT NOT NULL,
                limits TEXT NOT NULL,
                environment TEXT NOT NULL,
                policy TEXT NOT NULL
            )""",
            f"CREATE INDEX {DECISIONS}_key ON {DECISIONS} (key_id, at DESC, id DESC)",
            f"CREATE INDEX {DECISIONS}_client ON {DECISIONS} (client, at DESC, id DESC) "
            "WHERE key_id IS NULL",
            f"CREATE INDEX {DECISIONS}_at ON {DECISIONS} (at)",
            f"""CREATE TABLE {USAGE} (
                key_id TEXT NOT NULL,
                step TEXT NOT NULL,
                start BIGINT NOT NULL,
                requests BIGINT NOT NULL,
                allowed BIGINT NOT NULL,
                credits BIGINT NOT NULL,
                headroom DOUBLE PRECISION,
                PRIMARY KEY (key_id, step, start)
            )""",
            f"CREATE INDEX {USAGE}_start ON {USAGE} (start)",
            f"""CREATE TABLE {DENIALS} (
                key_id TEXT NOT NULL,
                step TEXT NOT NULL,
                start BIGINT NOT NULL,
                code TEXT NOT NULL,
                count BIGINT NOT NULL,
                PRIMARY KEY (key_id, step, start, code)
            )""",
            f"CREATE INDEX {DENIALS}_start ON {DENIALS} (start)",
        ),
    ),
)

_FIELDS = (
    "id", "at", "request_id", "code", "step", "reason", "credential", "key_id", "key_type",
    "key_environment", "method", "path", "resource", "action", "client", "rule",
    "rule_location", "error", "latency_us", "limits", "environment", "policy",
)  # fmt: skip
_COLUMNS = ", ".join(_FIELDS)
# Statements are assembled from the constant names above, never from input, which is
# always passed as parameters: hence the ``noqa: S608`` marks.
_INSERT = (
    f"INSERT INTO {DECISIONS} ({_COLUMNS}) "  # noqa: S608
    f"VALUES ({', '.join('?' for _ in _FIELDS)})"
)


# A bucket written again adds its counts and keeps the least headroom.
_ADD_USAGE = (
    f"INSERT INTO {USAGE} AS u (key_id, step, start, requests, allowed, credits, headroom) "  # noqa: S608
    "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (key_id, step, start) DO UPDATE SET "
    "requests = u.requests + excluded.requests, allowed = u.allowed + excluded.allowed, "
    "credits = u.credits + excluded.credits, headroom = CASE "
    "WHEN excluded.headroom IS NULL THEN u.headroom "
    "WHEN u.headroom IS NULL OR excluded.headroom < u.headroom THEN excluded.headroom "
    "ELSE u.headroom END"
)
_ADD_DENIALS = (
    f"INSERT INTO {DENIALS} AS d (key_id, step, start, code, count) "  # noqa: S608
    "VALUES (?, ?, ?, ?, ?) ON CONFLICT (key_id, step, start, code) DO UPDATE SET "
    "count = d.count + excluded.count"
)
_USAGE = (
    f"SELECT start, requests, allowed, credits, headroom FROM {USAGE} "  # noqa: S608
    "WHERE key_id = ? AND step = ? AND start >= ? AND start < ? ORDER BY start"
)
_DENIALS = (
    f"SELECT start, code, count FROM {DENIALS} "  # noqa: S608
    "WHERE key_id = ? AND step = ? AND start >= ? AND start < ?"
)


def limits_text(limits: Sequence[Headroom]) -> str:
    """``default:599:600,usage:99:100``: limit names hold neither ``:`` nor ``,``."""
    return ",".join(f"{h.name}:{h.remaining}:{h.quota}" for h in limits)


def limits_from_text(text: str) -> tuple[Headroom, ...]:
    found = []
    for item in text.split(",") if text else ():
        name, remaining, quota = item.split(":")
        found.append(Headroom(name, int(remaining), int(quota)))
    return tuple(found)


def decision_row(record: DecisionRecord) -> tuple[object, ...]:
    return (
        record.id,
        to_micros(record.at),
        record.request_id,
        record.code.value,
        record.step,
        record.reason,
        record.credential,
        record.key_id,
        record.key_type,
        record.key_environment,
        record.method,
        record.path,
        record.resource,
        record.action,
        record.client,
        record.rule,
        record.rule_location,
        record.error,
        round(record.latency * 1e6),
        limits_text(record.limits),
        record.environment,
        record.policy,
    )


def decision_from_row(row: Row) -> DecisionRecord:
    value = dict(zip(_FIELDS, row, strict=True))
    try:
        return DecisionRecord(
            id=value["id"],
            at=from_micros(int(value["at"])),
            request_id=value["request_id"],
            code=Code(value["code"]),
            step=value["step"],
            reason=value["reason"],
            credential=value["credential"],
            key_id=value["key_id"],
            key_type=value["key_type"],
            key_environment=value["key_environment"],
            method=value["method"],
            path=value["path"],
            resource=value["resource"],
            action=value["action"],
            client=value["client"],
            rule=value["rule"],
            rule_location=value["rule_location"],
            error=value["error"],
            latency=int(value["latency_us"]) / 1e6,
            limits=limits_from_text(value["limits"]),
            environment=value["environment"],
            policy=value["policy"],
        )
    except (TypeError, ValueError) as error:
        raise StorageError(f"the decision record {value['id']!r} is unreadable: {error}") from None


def decisions_statement(query: DecisionQuery) -> tuple[str, list[object]]:
    where: list[str] = []
    params: list[object] = []
    if query.keyless:
        where.append("key_id IS NULL")
    else:
        where.append("key_id = ?")
        params.append(query.key_id)
    for clause, value in (
        ("client = ?", query.client),
        ("at >= ?", None if query.since is None else to_micros(query.since)),
        ("at < ?", None if query.until is None else to_micros(query.until)),
        ("action = ?", query.action),
    ):
        if value is not None:
            where.append(clause)
            params.append(value)
    if query.codes:
        where.append(f"code IN ({', '.join('?' for _ in query.codes)})")
        params.extend(query.codes)
    if query.after is not None:
        at, record_id = query.after
        where.append("(at < ? OR (at = ? AND id < ?))")
        params.extend([at, at, record_id])
    params.append(query.limit)
    return (
        f"SELECT {_COLUMNS} FROM {DECISIONS} WHERE {' AND '.join(where)} "  # noqa: S608
        "ORDER BY at DESC, id DESC LIMIT ?",
        params,
    )


class SqlMonitorStore:
    persistent = True

    def __init__(self, database: Database) -> None:
        self._database = database
        open_schema(database, COMPONENT, MIGRATIONS, "monitor")

    def write(self, batch: Batch) -> None:
        # Buckets in key order, so that two processes adding at once lock rows in one order.
        buckets = sorted(batch.usage.items())
        with self._database.transaction(write=True) as run:
            run.many(_INSERT, [decision_row(record) for record in batch.decisions])
            run.many(
                _ADD_USAGE,
                [(*key, b.requests, b.allowed, b.credits, b.headroom) for key, b in buckets],
            )
            run.many(
                _ADD_DENIALS,
                [
                    (*key, code, count)
                    for key, b in buckets
                    for code, count in sorted(b.denied.items())
                ],
            )

    def usage(self, query: UsageQuery) -> Sequence[UsagePoint]:
        span = (query.key_id, query.step, to_micros(query.since), to_micros(query.until))
        with self._database.transaction(write=False) as run:
            rows, _ = run(_USAGE, span)
            denials, _ = run(_DENIALS, span)
        denied: dict[int, dict[str, int]] = {}
        for start, code, count in denials:
            denied.setdefault(int(start), {})[str(code)] = int(count)
        return [
            point(
                query.step,
                int(start),
                Bucket(
                    int(requests),
                    int(allowed),
                    int(credits),
                    None if headroom is None else float(headroom),
                    denied.get(int(start), {}),
                ),
            )
            for start, requests, allowed, credits, headroom in rows
        ]

    def decisions(self, query: DecisionQuery) -> Sequence[DecisionRecord]:
        statement, params = decisions_statement(query)
        with self._database.transaction(write=False) as run:
            rows, _ = run(statement, params)
        return [decision_from_row(row) for row in rows]

    def prune(self, before: datetime) -> int:
        cutoff = (to_micros(before),)
        with self._database.transaction(write=True) as run:
            _, count = run(f"DELETE FROM {DECISIONS} WHERE at < ?", cutoff)  # noqa: S608
            run(f"DELETE FROM {USAGE} WHERE start < ?", cutoff)  # noqa: S608
            run(f"DELETE FROM {DENIALS} WHERE start < ?", cutoff)  # noqa: S608
        return max(count, 0)

    def close(self) -> None:
        self._database.close()


def _open_sqlite(url: str) -> SqlMonitorStore:
    return SqlMonitorStore(SqliteDatabase(sqlite_path(url, "monitor"), "monitor"))


def _open_postgres(url: str) -> SqlMonitorStore:
    return SqlMonitorStore(PostgresDatabase(url, "monitor", "policyengine-monitor", max_size=4))


register_scheme("sqlite", _open_sqlite)
register_scheme("postgresql", _open_postgres)
register_scheme("postgres", _open_postgres)
