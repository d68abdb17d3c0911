"""Schema migrations, numbered per component and applied once per database."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from policyengine.errors import StorageError

Row = Sequence[Any]


class Run(Protocol):
    """Statements inside one transaction."""

    def __call__(self, sql: str, params: Sequence[object], /) -> tuple[list[Row], int]:
        """Run one statement: ``(rows, rowcount)``."""

    def many(self, sql: str, rows: Sequence[Sequence[object]], /) -> None:
        """Run one statement once for each row of parameters, in one round trip."""


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# One number for every process, so that concurrent migrations run one after another.
_MIGRATIONS = 0x706F6C6B  # "polk"
_TABLE = (
    "CREATE TABLE IF NOT EXISTS policyengine_migrations (component TEXT NOT NULL, "
    "version INTEGER NOT NULL, name TEXT NOT NULL, applied_at BIGINT NOT NULL, "
    "PRIMARY KEY (component, version))"
)


class Database(Protocol):
    def exclusive(self, name: int) -> str | None:
        """A statement that, run in a write transaction, holds off every other transaction
        that runs it with the same ``name`` until this one ends; ``None`` where a write
        transaction excludes every other already (SQLite)."""

    def transaction(self, write: bool) -> AbstractContextManager[Run]:
        """A transaction that commits on leaving and rolls back on an error; every database
        error inside it (or in opening it) becomes a :class:`StorageError`. ``write`` says
        whether it will write, so that a backend can take the write lock up front."""

    def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    statements: tuple[str, ...]


def open_schema(
    database: Database, component: str, migrations: Sequence[Migration], what: str
) -> None:
    """Bring ``component``'s tables in ``database`` to the newest version this code knows,
    once per database; the database is closed if that fails."""
    applied_at = (datetime.now(UTC) - _EPOCH) // timedelta(microseconds=1)
    try:
        with database.transaction(write=True) as run:
            # ``CREATE TABLE IF NOT EXISTS`` is not safe against itself in PostgreSQL; held
            # until the migration commits, this makes a second process wait and find the
            # work done.
            lock = database.exclusive(_MIGRATIONS)
            if lock is not None:
                run(lock, ())
            migrate(run, component, migrations, applied_at, what)
    except BaseException:
        database.close()
        raise


def migrate(
    run: Run,
    component: str,
    migrations: Sequence[Migration],
    applied_at: int,
    what: str,
) -> None:
    """Apply the ``migrations`` of ``component`` that this database lacks, in order, inside
    the caller's transaction (which serialises concurrent migrations), noting when
    (``applied_at``, microseconds since the epoch). A database
    migrated by a newer policyengine is refused: ``what`` names it in the error."""
    run(_TABLE, ())
    rows, _ = run("SELECT version FROM policyengine_migrations WHERE component = ?", (component,))
    applied = {int(row[0]) for row in rows}
    latest = migrations[-1].version
    if applied and max(applied) > latest:
        raise StorageError(
            f"the {what}'s schema is at version {max(applied)}, newer than this "
            f"policyengine knows ({latest}); upgrade policyengine"
        )
    for migration in migrations:
        if migration.version in applied:
            continue
        for statement in migration.statements:
            run(statement, ())
        run(
            "INSERT INTO policyengine_migrations (component, version, name, applied_at) "
            "VALUES (?, ?, ?, ?)",
            (component, migration.version, migration.name, applied_at),
        )


def schema_version(run: Run, component: str) -> int:
    rows, _ = run(
        "SELECT max(version) FROM policyengine_migrations WHERE component = ?", (component,)
    )
    return int(rows[0][0] or 0)
