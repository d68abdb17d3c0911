"""``sqlite:///…`` and ``postgresql://…``: the monitor in a database, one schema and one
set of queries for both. Each batch is one transaction."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from policyengine.db import Database, open_schema
from policyengine.db.postgres import PostgresDatabase
from policyengine.db.sqlite import SqliteDatabase, sqlite_path
from policyengine.keys.codec import to_micros
from policyengine.monitor import sql_alerts, sql_audit
from policyengine.monitor.alerts import Alert, raised_entry
from policyengine.monitor.audit import AuditEntry, AuditHead
from policyengine.monitor.history import KeyHistory
from policyengine.monitor.records import DecisionRecord
from policyengine.monitor.rows import STORED
from policyengine.monitor.schema import (
    ALERTS,
    COMPONENT,
    DECISIONS,
    DENIALS,
    MIGRATIONS,
    NETWORKS,
    USAGE,
)
from policyengine.monitor.sql_rows import (
    ADD_DENIALS,
    ADD_USAGE,
    INSERT,
    SELECT_DENIALS,
    SELECT_USAGE,
    decision_from_row,
    decisions_statement,
    usage_points,
    usage_rows,
)
from policyengine.monitor.store import (
    NETWORK_MEMORY,
    AlertQuery,
    AuditQuery,
    Batch,
    DecisionQuery,
    MonitorStore,
    UsageQuery,
    Written,
    register_scheme,
)
from policyengine.monitor.usage import UsagePoint


class SqlMonitorStore:
    persistent = True

    def __init__(self, database: Database) -> None:
        self._database = database
        open_schema(database, COMPONENT, MIGRATIONS, "monitor")

    def write(self, batch: Batch) -> Written:
        usage, denials = usage_rows(list(batch.usage.items()))
        with self._database.transaction(write=True) as run:
            run.many(INSERT, [row[:STORED] for row in batch.decisions])
            run.many(ADD_USAGE, usage)
            run.many(ADD_DENIALS, denials)
            sql_alerts.add_networks(run, batch.networks)
            written = sql_alerts.write_alerts(run, batch.alerts)
            drafts = [*batch.audit, *map(raised_entry, written.raised)]
            if drafts and batch.chain is not None:
                written.audit = sql_audit.append(run, self._database, batch.chain, drafts)
            return written

    def decisions(self, query: DecisionQuery) -> Sequence[DecisionRecord]:
        statement, params = decisions_statement(query)
        with self._database.transaction(write=False) as run:
            rows, _ = run(statement, params)
        return [decision_from_row(row) for row in rows]

    def usage(self, query: UsageQuery) -> Sequence[UsagePoint]:
        span = (query.key_id, query.step, to_micros(query.since), to_micros(query.until))
        with self._database.transaction(write=False) as run:
            rows, _ = run(SELECT_USAGE, span)
            denials, _ = run(SELECT_DENIALS, span)
        return usage_points(query.step, rows, denials)

    def key_history(self, key_id: str, since: datetime) -> KeyHistory:
        with self._database.transaction(write=False) as run:
            return sql_alerts.key_history(run, key_id, since)

    def alerts(self, query: AlertQuery) -> Sequence[Alert]:
        statement, params = sql_alerts.alerts_statement(query)
        with self._database.transaction(write=False) as run:
            rows, _ = run(statement, params)
        return [sql_alerts.alert_from_row(row) for row in rows]

    def close_alerts(self, kind: str, before: datetime, now: datetime) -> list[Alert]:
        with self._database.transaction(write=True) as run:
            return sql_alerts.close_alerts(run, kind, before, now)

    def audit_entries(self, query: AuditQuery) -> Sequence[AuditEntry]:
        statement, params = sql_audit.entries_statement(query)
        with self._database.transaction(write=False) as run:
            rows, _ = run(statement, params)
        return [sql_audit.entry_from_row(row) for row in rows]

    def audit_head(self) -> AuditHead | None:
        with self._database.transaction(write=False) as run:
            return sql_audit.head(run)

    def audit_seq_of(self, mac: str) -> int | None:
        with self._database.transaction(write=False) as run:
            return sql_audit.seq_of(run, mac)

    def prune(self, before: datetime) -> int:
        cutoff = (to_micros(before),)
        with self._database.transaction(write=True) as run:
            _, count = run(f"DELETE FROM {DECISIONS} WHERE at < ?", cutoff)  # noqa: S608
            run(f"DELETE FROM {USAGE} WHERE start < ?", cutoff)  # noqa: S608
            run(f"DELETE FROM {DENIALS} WHERE start < ?", cutoff)  # noqa: S608
            run(
                f"DELETE FROM {NETWORKS} WHERE last_seen < ?",  # noqa: S608
                (to_micros(before - NETWORK_MEMORY),),
            )
            run(f"DELETE FROM {ALERTS} WHERE state = 'closed' AND closed_at < ?", cutoff)  # noqa: S608
        return max(count, 0)

    def close(self) -> None:
        self._database.close()


def _open_sqlite(url: str) -> MonitorStore:
    return SqlMonitorStore(SqliteDatabase(sqlite_path(url, "monitor"), "monitor"))


def _open_postgres(url: str) -> MonitorStore:
    return SqlMonitorStore(PostgresDatabase(url, "monitor", "policyengine-monitor", max_size=4))


register_scheme("sqlite", _open_sqlite)
register_scheme("postgresql", _open_postgres)
register_scheme("postgres", _open_postgres)
