"""tDoc's data lives in the database that holds the keys: opened from the same URL, its
tables made by the same migrations mechanism (:mod:`policyengine.db`), under their own
component name."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TypeVar

from policyengine.db import Database, open_schema
from policyengine.errors import ConfigError, StorageError
from policyengine.keys.format import BASE62
from policyengine.redaction import redact
from portal.store.schema import COMPONENT, MIGRATIONS

Clock = Callable[[], datetime]
T = TypeVar("T")
ID_LENGTH = 20
#: What tDoc's database is called in errors.
NOUN = "tDoc store"


@dataclass(frozen=True, slots=True)
class Opened:
    """tDoc's database, and whether several instances may claim work in it at once
    (PostgreSQL: rows are claimed ``FOR UPDATE SKIP LOCKED``)."""

    database: Database
    shared: bool

    def close(self) -> None:
        self.database.close()


def open_database(url: str) -> Opened:
    """The SQLite or PostgreSQL database at ``url``, with tDoc's tables up to date."""
    scheme = url.partition("://")[0].lower() if isinstance(url, str) and "://" in url else ""
    database: Database
    if scheme == "sqlite":
        from policyengine.db.sqlite import SqliteDatabase, sqlite_path

        database, shared = SqliteDatabase(sqlite_path(url, NOUN), NOUN), False
    elif scheme in ("postgresql", "postgres"):
        from policyengine.db.postgres import PostgresDatabase

        database, shared = PostgresDatabase(url, NOUN, "policyengine-tdoc"), True
    else:
        raise ConfigError(
            f"tDoc's API keeps its data beside the keys, in SQLite or PostgreSQL; "
            f"{redact(url)} is neither (use sqlite:///path.db or postgresql://…)"
        )
    open_schema(database, COMPONENT, MIGRATIONS, NOUN)
    return Opened(database, shared)


def new_id(prefix: str) -> str:
    """``evt_`` and 20 random base62 characters: unguessable, and safe in a path."""
    return f"{prefix}_{''.join(secrets.choice(BASE62) for _ in range(ID_LENGTH))}"


def utc_now() -> datetime:
    return datetime.now(UTC)


def written(value: T | None, what: str) -> T:
    """``value``, read back in the transaction that wrote it; it cannot be missing."""
    if value is None:
        raise StorageError(f"{what} was not found in the transaction that wrote it")
    return value
