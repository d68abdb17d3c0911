"""What the SQL stores share: the schema and its migrations, rows ⇄ records, the queries.

The SQL is written once, with ``?`` placeholders, in the subset that SQLite and
PostgreSQL both speak: times are integer microseconds since the epoch, lists and maps are
JSON text, the hash is hex text. A backend supplies only connections and transactions.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import cast

from policyengine.db import Database, Migration, Row, Run, open_schema, schema_version
from policyengine.db.where import Where
from policyengine.errors import InvalidValue, StorageError
from policyengine.keys import codec
from policyengine.keys.store import KeyQuery, StoredKey
from policyengine.record import Environment, KeyRecord, ReadOnlyDict, Usage

TABLE = "policyengine_keys"
COMPONENT = "keys"


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "create the keys table",
        (
            f"""CREATE TABLE {TABLE} (
                id TEXT PRIMARY KEY,
                key_hash TEXT NOT NULL UNIQUE,
                type TEXT NOT NULL,
                label TEXT NOT NULL,
                environment TEXT NOT NULL,
                prefix TEXT NOT NULL,
                last4 TEXT NOT NULL,
                created_at BIGINT NOT NULL,
                expires_at BIGINT,
                scopes TEXT NOT NULL,
                allowed_ips TEXT NOT NULL,
                rate_limits TEXT NOT NULL,
                usage TEXT,
                metadata TEXT NOT NULL,
                disabled INTEGER NOT NULL,
                revoked_at BIGINT,
                rotated_to TEXT,
                rotated_from TEXT,
                grace_until BIGINT,
                last_used_at BIGINT,
                revision INTEGER NOT NULL,
                end_announced INTEGER NOT NULL
            )""",
            f"CREATE INDEX {TABLE}_newest ON {TABLE} (created_at DESC, id DESC)",
        ),
    ),
    Migration(
        2,
        "index the keys whose end is still to be announced",
        (f"CREATE INDEX {TABLE}_unannounced ON {TABLE} (end_announced, expires_at)",),
    ),
    Migration(
        3,
        "count limits and credits per rotation chain: each key's lineage is its first key",
        (
            f"ALTER TABLE {TABLE} ADD COLUMN lineage TEXT",
            # Every chain, walked from its first key (the one not rotated from another).
            f"""WITH RECURSIVE chain (id, root) AS (
                SELECT id, id FROM {TABLE} WHERE rotated_from IS NULL
                UNION ALL
                SELECT k.id, chain.root FROM {TABLE} k JOIN chain ON k.rotated_from = chain.id
            )
            UPDATE {TABLE} SET lineage = (
                SELECT chain.root FROM chain WHERE chain.id = {TABLE}.id
            )""",  # noqa: S608
        ),
    ),
)

# The record's fields, in column order; ``last_used_at`` is written only by ``touch``.
_FIELDS = (
    "id", "type", "label", "environment", "prefix", "last4", "created_at", "expires_at",
    "scopes", "allowed_ips", "rate_limits", "usage", "metadata", "disabled", "revoked_at",
    "rotated_to", "rotated_from", "lineage", "grace_until", "revision", "end_announced",
    "last_used_at",
)  # fmt: skip
_COLUMNS = ", ".join(_FIELDS)
# Statements are assembled from the constant names above, never from input, which is
# always passed as parameters: hence the ``noqa: S608`` marks.
_PLACEHOLDERS = ", ".join("?" for _ in _FIELDS)
_INSERT = f"INSERT INTO {TABLE} ({_COLUMNS}, key_hash) VALUES ({_PLACEHOLDERS}, ?)"  # noqa: S608
_UPDATE = (
    f"UPDATE {TABLE} SET "  # noqa: S608
    + ", ".join(f"{name} = ?" for name in _FIELDS[1:-1])
    + " WHERE id = ? AND revision = ?"
)
_TOUCH = (
    f"UPDATE {TABLE} SET last_used_at = ? WHERE id = ? "  # noqa: S608
    "AND (last_used_at IS NULL OR last_used_at < ?)"
)

# When a key is in each state, as ``KeyRecord.state`` decides it; ``{now}`` is a parameter.
_LIVE = "(revoked_at IS NULL OR revoked_at > ?)"
_UNEXPIRED = "(expires_at IS NULL OR expires_at > ?)"
_STATES: dict[str, tuple[str, int]] = {
    "revoked": ("revoked_at IS NOT NULL AND revoked_at <= ?", 1),
    "disabled": (f"{_LIVE} AND disabled = 1", 1),
    "expired": (f"{_LIVE} AND disabled = 0 AND expires_at IS NOT NULL AND expires_at <= ?", 2),
    "rotated": (f"{_LIVE} AND disabled = 0 AND {_UNEXPIRED} AND rotated_to IS NOT NULL", 2),
    "active": (f"{_LIVE} AND disabled = 0 AND {_UNEXPIRED} AND rotated_to IS NULL", 2),
}


def record_values(record: KeyRecord) -> list[object]:
    values: dict[str, object] = {
        "id": record.id,
        "type": record.type,
        "label": record.label,
        "environment": record.environment,
        "prefix": record.prefix,
        "last4": record.last4,
        "created_at": codec.to_micros(record.created_at),
        "expires_at": codec.optional_micros(record.expires_at),
        "scopes": codec.dumps(list(record.scopes)),
        "allowed_ips": codec.dumps(list(record.allowed_ips)),
        "rate_limits": codec.dumps(codec.rates_to_json(record.rate_limits)),
        "usage": None if record.usage is None else codec.dumps(codec.usage_to_json(record.usage)),
        "metadata": codec.dumps(record.metadata),
        "disabled": int(record.disabled),
        "revoked_at": codec.optional_micros(record.revoked_at),
        "rotated_to": record.rotated_to,
        "rotated_from": record.rotated_from,
        "lineage": record.lineage,
        "grace_until": codec.optional_micros(record.grace_until),
        "revision": record.revision,
        "end_announced": int(record.end_announced),
        "last_used_at": codec.optional_micros(record.last_used_at),
    }
    return [values[name] for name in _FIELDS]


def _strings(text: str) -> tuple[str, ...]:
    return tuple(json.loads(text))


def _rates(text: str) -> ReadOnlyDict:
    return ReadOnlyDict(codec.rates_from_json(json.loads(text)))


def _usage(text: str) -> Usage | None:
    return codec.usage_from_json(json.loads(text))


def _metadata(text: str) -> ReadOnlyDict:
    return ReadOnlyDict(json.loads(text))


def record_from_row(row: Row) -> KeyRecord:
    """The record of a row. What repeats between keys (the type, the scopes, the limits,
    the networks) is decoded once and shared, which keeps a cached key under 1 KiB."""
    value = dict(zip(_FIELDS, row, strict=False))
    shared = codec.shared
    key_id, lineage = value["id"], value["lineage"]
    try:
        return KeyRecord(
            id=key_id,
            type=shared("str", value["type"], str),
            label=value["label"],
            environment=cast(Environment, shared("str", value["environment"], str)),
            prefix=shared("str", value["prefix"], str),
            last4=value["last4"],
            created_at=codec.from_micros(value["created_at"]),
            expires_at=codec.optional_moment(value["expires_at"]),
            scopes=shared("strings", value["scopes"], _strings),
            allowed_ips=shared("strings", value["allowed_ips"], _strings),
            rate_limits=shared("rates", value["rate_limits"], _rates),
            usage=None if value["usage"] is None else shared("usage", value["usage"], _usage),
            metadata=(
                _metadata(value["metadata"])
                if len(value["metadata"]) > 2
                else shared("metadata", value["metadata"], _metadata)
            ),
            disabled=bool(value["disabled"]),
            revoked_at=codec.optional_moment(value["revoked_at"]),
            rotated_to=value["rotated_to"],
            rotated_from=value["rotated_from"],
            # The id itself when the key starts its chain (one string, not two); a key
            # whose chain was broken before lineages were recorded counts alone.
            lineage="" if not lineage or lineage == key_id else lineage,
            grace_until=codec.optional_moment(value["grace_until"]),
            revision=int(value["revision"]),
            end_announced=bool(value["end_announced"]),
            last_used_at=codec.optional_moment(value["last_used_at"]),
        )
    except (KeyError, TypeError, ValueError, InvalidValue) as error:
        raise StorageError(f"the stored key {value.get('id')!r} is unreadable: {error}") from None


def list_statement(query: KeyQuery) -> tuple[str, list[object]]:
    now = codec.to_micros(query.now)
    where = Where().given("environment = ?", query.environment).given("type = ?", query.type)
    if query.label is not None:
        escaped = query.label.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        where.add("lower(label) LIKE ? ESCAPE '\\'", f"%{escaped}%")
    if query.state is not None:
        clause, uses_of_now = _STATES[query.state]
        where.add(f"({clause})", *[now] * uses_of_now)
    if query.after is not None:
        where.before("created_at", "id", (codec.to_micros(query.after[0]), query.after[1]))
    if query.end_unannounced:
        where.add("end_announced = 0")
    return (
        f"SELECT {_COLUMNS} FROM {TABLE}{where.sql()} "  # noqa: S608
        "ORDER BY created_at DESC, id DESC LIMIT ?",
        [*where.params, query.limit],
    )


class SqlStore:
    """The store protocol over a SQL database."""

    persistent = True

    def __init__(self, database: Database) -> None:
        self._database = database
        open_schema(database, COMPONENT, MIGRATIONS, "key store")

    def _transaction(self, write: bool) -> AbstractContextManager[Run]:
        """A transaction that commits on leaving and rolls back on an error; every database
        error inside it (or in opening it) becomes a :class:`StorageError`. ``write`` says
        whether it will write, so that a backend can take the write lock up front."""
        return self._database.transaction(write)

    def schema_version(self) -> int:
        with self._transaction(write=False) as run:
            return schema_version(run, COMPONENT)

    def close(self) -> None:
        self._database.close()

    def insert(self, record: KeyRecord, key_hash: str) -> None:
        with self._transaction(write=True) as run:
            run(_INSERT, [*record_values(record), key_hash])

    def get(self, key_id: str) -> KeyRecord | None:
        with self._transaction(write=False) as run:
            rows, _ = run(f"SELECT {_COLUMNS} FROM {TABLE} WHERE id = ?", (key_id,))  # noqa: S608
        return record_from_row(rows[0]) if rows else None

    def get_by_hash(self, key_hash: str) -> StoredKey | None:
        with self._transaction(write=False) as run:
            rows, _ = run(
                f"SELECT {_COLUMNS}, key_hash FROM {TABLE} WHERE key_hash = ?",  # noqa: S608
                (key_hash,),
            )
        if not rows:
            return None
        return StoredKey(record_from_row(rows[0]), str(rows[0][len(_FIELDS)]))

    def update(self, record: KeyRecord) -> bool:
        with self._transaction(write=True) as run:
            return self._update(run, record)

    def stored_keys(self, limit: int, after: tuple[datetime, str] | None) -> list[StoredKey]:
        """Up to ``limit`` keys with their hashes, newest first, from before ``after``."""
        where = Where()
        if after is not None:
            where.before("created_at", "id", (codec.to_micros(after[0]), after[1]))
        with self._transaction(write=False) as run:
            rows, _ = run(
                f"SELECT {_COLUMNS}, key_hash FROM {TABLE}{where.sql()} "  # noqa: S608
                "ORDER BY created_at DESC, id DESC LIMIT ?",
                [*where.params, limit],
            )
        return [StoredKey(record_from_row(row), str(row[len(_FIELDS)])) for row in rows]

    def rotate(self, old: KeyRecord, new: KeyRecord, new_hash: str) -> bool:
        with self._transaction(write=True) as run:
            if not self._update(run, old):
                return False
            run(_INSERT, [*record_values(new), new_hash])
            return True

    def list(self, query: KeyQuery) -> Sequence[KeyRecord]:
        statement, params = list_statement(query)
        with self._transaction(write=False) as run:
            rows, _ = run(statement, params)
        return [record_from_row(row) for row in rows]

    def touch(self, used: Mapping[str, datetime]) -> None:
        with self._transaction(write=True) as run:
            # In id order, so that two processes flushing at once lock rows in one order.
            for key_id, minute in sorted(used.items()):
                micros = codec.to_micros(minute)
                run(_TOUCH, (micros, key_id, micros))

    @staticmethod
    def _update(run: Run, record: KeyRecord) -> bool:
        values = record_values(record)[1:-1]
        _, count = run(_UPDATE, [*values, record.id, record.revision - 1])
        return count == 1
