"""Someone with write access to the monitor's database, but not the secret, edits the
audit log: straight into its table (SQLite, PostgreSQL) or its list (memory)."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import replace
from typing import Any

from policyengine.engine import Engine
from policyengine.monitor.audit import AuditEntry, Chain

TABLE = "policyengine_audit"


class Tamper:
    def __init__(self, engine: Engine, url: str) -> None:
        self.engine = engine
        self.url = url
        self.store: Any = engine.monitor._store

    # The table as rows, and statements on it.

    def _sql(self, statement: str, params: tuple[object, ...] = ()) -> list[tuple[Any, ...]]:
        if self.url.startswith("sqlite:///"):
            with sqlite3.connect(self.url[len("sqlite:///") :]) as connection:
                return connection.execute(statement, params).fetchall()
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as connection:
            cursor = connection.execute(statement.replace("?", "%s"), params)
            return cursor.fetchall() if cursor.description else []

    def entries(self) -> list[AuditEntry]:
        if self.url == "memory://":
            return list(self.store._audit)
        rows = self._sql(
            f"SELECT seq, at, event, actor, subject, details, prev, mac FROM {TABLE} ORDER BY seq"
        )
        from policyengine.keys.codec import from_micros

        return [
            AuditEntry(seq, from_micros(at), event, actor, subject, json.loads(details), prev, mac)
            for seq, at, event, actor, subject, details, prev, mac in rows
        ]

    def _replace_all(self, entries: list[AuditEntry]) -> None:
        if self.url == "memory://":
            self.store._audit = entries
            return
        self._sql(f"DELETE FROM {TABLE}")
        for e in entries:
            self._sql(
                f"INSERT INTO {TABLE} (seq, at, event, actor, subject, details, prev, mac) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    e.seq,
                    int(e.at.timestamp() * 1_000_000),
                    e.event,
                    e.actor,
                    e.subject,
                    json.dumps(dict(e.details), sort_keys=True, separators=(",", ":")),
                    e.prev,
                    e.mac,
                ),
            )

    # What the tamperer does.

    def change(self, seq: int, **fields: object) -> None:
        entries = self.entries()
        entries[seq - 1] = replace(entries[seq - 1], **fields)  # type: ignore[arg-type]
        self._replace_all(entries)

    def delete(self, seq: int) -> None:
        self._replace_all([e for e in self.entries() if e.seq != seq])

    def insert(self, seq: int, entry: AuditEntry) -> None:
        """Put ``entry`` at ``seq``, moving the entries from there one place on."""
        entries = self.entries()
        moved = [replace(e, seq=e.seq + 1) if e.seq >= seq else e for e in entries]
        self._replace_all(sorted([*moved, replace(entry, seq=seq)], key=lambda e: e.seq))

    def swap(self, first: int, second: int) -> None:
        entries = self.entries()
        a, b = entries[first - 1], entries[second - 1]
        entries[first - 1], entries[second - 1] = replace(b, seq=first), replace(a, seq=second)
        self._replace_all(entries)

    def rewrite(self, key: bytes) -> None:
        """Seal the whole log again under a key of the tamperer's own."""
        chain = Chain(key)
        prev, rewritten = "0" * 64, []
        for e in self.entries():
            mac = chain.mac(e.at, e.event, e.actor, e.subject, e.details, prev)
            rewritten.append(replace(e, prev=prev, mac=mac))
            prev = mac
        self._replace_all(rewritten)

    def cut(self, after: int) -> None:
        self._replace_all([e for e in self.entries() if e.seq <= after])
