"""``postgresql://…``: keys shared by every instance of a service, through a connection pool.

The schema and queries are :mod:`policyengine.keys.sql`'s, the same as SQLite's. To keep
the tables in a schema of their own, put it on the search path in the URL:
``postgresql://app@db/main?options=-csearch_path%3Dpolicyengine``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from policyengine.errors import ConfigError, StorageError
from policyengine.keys.sql import Row, Run, SqlStore
from policyengine.keys.store import register_scheme
from policyengine.redaction import RedactedUrl

try:
    import psycopg
    from psycopg_pool import ConnectionPool
except ImportError:  # pragma: no cover - depends on how the package was installed
    psycopg = None  # type: ignore[assignment]

#: Seconds to wait for a connection (from the pool, or to a server that is down).
CONNECT_TIMEOUT_SECONDS = 5.0
#: A statement that takes longer is cancelled: a store that hangs must fail, not block.
STATEMENT_TIMEOUT_MS = 5000
# One number for every process, so that concurrent migrations run one after another.
_MIGRATION_LOCK = 0x706F6C6B  # "polk"


class PostgresStore(SqlStore):
    persistent = True
    secret_file: Path | None = None
    # ``CREATE TABLE IF NOT EXISTS`` is not safe against itself in PostgreSQL; this lock,
    # held until the migration commits, makes a second process wait and find the work done.
    _migration_lock = f"SELECT pg_advisory_xact_lock({_MIGRATION_LOCK})"

    def __init__(self, url: str, *, min_size: int = 1, max_size: int = 10) -> None:
        if psycopg is None:
            raise ConfigError(
                "the postgresql:// key store needs psycopg: pip install 'policyengine[postgres]'"
            )
        self._where = RedactedUrl(url)
        _probe(url, self._where)
        try:
            self._pool = ConnectionPool(
                url,
                min_size=min_size,
                max_size=max_size,
                timeout=CONNECT_TIMEOUT_SECONDS,
                kwargs={"connect_timeout": int(CONNECT_TIMEOUT_SECONDS)},
                configure=_configure,
                name="policyengine-keys",
                open=False,
            )
            self._pool.open(wait=True, timeout=CONNECT_TIMEOUT_SECONDS)
        except psycopg.Error as error:
            self._close_pool()
            raise StorageError(
                f"cannot reach the key store {self._where}: {_one_line(error, self._where)}"
            ) from None
        try:
            self.migrate(datetime.now(UTC))
        except StorageError:
            self._close_pool()
            raise

    @contextmanager
    def _transaction(self, write: bool) -> Iterator[Run]:
        try:
            # The pool commits when the block ends and rolls back if it raises.
            with self._pool.connection() as connection, connection.cursor() as cursor:

                def run(sql: str, params: Sequence[object]) -> tuple[list[Row], int]:
                    cursor.execute(sql.replace("?", "%s"), tuple(params))
                    rows: list[Row] = []
                    if cursor.description is not None:
                        rows.extend(cursor.fetchall())
                    return rows, cursor.rowcount

                yield run
        except psycopg.Error as error:
            raise StorageError(
                f"key store {self._where}: {_one_line(error, self._where)}"
            ) from None

    def close(self) -> None:
        self._close_pool()

    def _close_pool(self) -> None:
        pool = getattr(self, "_pool", None)
        if pool is not None:
            pool.close()


def _probe(url: str, where: RedactedUrl) -> None:
    """Fail at once, with the server's own words, when the URL is wrong or the server down;
    a pool would only retry in the background and time out."""
    try:
        psycopg.connect(url, connect_timeout=int(CONNECT_TIMEOUT_SECONDS)).close()
    except psycopg.ProgrammingError as error:
        raise ConfigError(f"invalid key store URL {where}: {_one_line(error, where)}") from None
    except psycopg.Error as error:
        raise StorageError(
            f"cannot reach the key store {where}: {_one_line(error, where)}"
        ) from None


def _one_line(error: Exception, where: RedactedUrl) -> str:
    """The driver's message on one line, without anything secret the URL held."""
    text = " ".join(line.strip() for line in str(error).splitlines() if line.strip())
    return where.scrub(text)


def _configure(connection: psycopg.Connection[tuple[object, ...]]) -> None:
    # Set per connection rather than in the URL's ``options``, which stays the user's.
    connection.execute(f"SET statement_timeout = {STATEMENT_TIMEOUT_MS}")
    connection.commit()


def _open(url: str, create: bool) -> PostgresStore:
    # A database server's schema is created by migrations whether asked to or not: unlike a
    # SQLite path, a URL cannot name a store that is not there by mistake.
    return PostgresStore(url)


register_scheme("postgresql", _open)
register_scheme("postgres", _open)
