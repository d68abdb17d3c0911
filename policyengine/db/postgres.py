"""``postgresql://…``: one database shared by every instance of a service, through a pool.

To keep the tables in a schema of their own, put it on the search path in the URL:
``postgresql://app@db/main?options=-csearch_path%3Dpolicyengine``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from policyengine.db.migrations import Row, Run
from policyengine.errors import ConfigError, StorageError
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


class PostgresDatabase:
    """``what`` names the database in errors (``key store``, ``monitor``); ``name`` the
    pool, as the server's activity views show it."""

    def __init__(
        self, url: str, what: str, name: str, *, min_size: int = 1, max_size: int = 10
    ) -> None:
        if psycopg is None:
            raise ConfigError(
                f"the postgresql:// {what} needs psycopg: pip install 'policyengine[postgres]'"
            )
        self.what = what
        self.where = RedactedUrl(url)
        _probe(url, what, self.where)
        try:
            self._pool = ConnectionPool(
                url,
                min_size=min_size,
                max_size=max_size,
                timeout=CONNECT_TIMEOUT_SECONDS,
                kwargs={"connect_timeout": int(CONNECT_TIMEOUT_SECONDS)},
                configure=_configure,
                name=name,
                open=False,
            )
            self._pool.open(wait=True, timeout=CONNECT_TIMEOUT_SECONDS)
        except psycopg.Error as error:
            self.close()
            raise StorageError(
                f"cannot reach the {what} {self.where}: {one_line(error, self.where)}"
            ) from None

    def exclusive(self, name: int) -> str | None:
        return f"SELECT pg_advisory_xact_lock({int(name)})"

    @contextmanager
    def transaction(self, write: bool) -> Iterator[Run]:
        """A transaction that commits on leaving and rolls back on an error; every database
        error inside it (or in opening it) becomes a :class:`StorageError`."""
        try:
            # The pool commits when the block ends and rolls back if it raises.
            with self._pool.connection() as connection, connection.cursor() as cursor:
                yield _Run(cursor)
        except psycopg.Error as error:
            raise StorageError(f"{self.what} {self.where}: {one_line(error, self.where)}") from None

    def close(self) -> None:
        pool = getattr(self, "_pool", None)
        if pool is not None:
            pool.close()


class _Run:
    __slots__ = ("_cursor",)

    def __init__(self, cursor: Any) -> None:
        self._cursor = cursor

    def __call__(self, sql: str, params: Sequence[object], /) -> tuple[list[Row], int]:
        cursor = self._cursor
        cursor.execute(sql.replace("?", "%s"), tuple(params))
        rows: list[Row] = []
        if cursor.description is not None:
            rows.extend(cursor.fetchall())
        return rows, cursor.rowcount

    def many(self, sql: str, rows: Sequence[Sequence[object]], /) -> None:
        if rows:
            self._cursor.executemany(sql.replace("?", "%s"), [tuple(row) for row in rows])


def _probe(url: str, what: str, where: RedactedUrl) -> None:
    """Fail at once, with the server's own words, when the URL is wrong or the server down;
    a pool would only retry in the background and time out."""
    try:
        psycopg.connect(url, connect_timeout=int(CONNECT_TIMEOUT_SECONDS)).close()
    except psycopg.ProgrammingError as error:
        raise ConfigError(f"invalid {what} URL {where}: {one_line(error, where)}") from None
    except psycopg.Error as error:
        raise StorageError(f"cannot reach the {what} {where}: {one_line(error, where)}") from None


def one_line(error: Exception, where: RedactedUrl) -> str:
    """The driver's message on one line, without anything secret the URL held."""
    text = " ".join(line.strip() for line in str(error).splitlines() if line.strip())
    return where.scrub(text)


def _configure(connection: psycopg.Connection[tuple[object, ...]]) -> None:
    # Set per connection rather than in the URL's ``options``, which stays the user's.
    connection.execute(f"SET statement_timeout = {STATEMENT_TIMEOUT_MS}")
    connection.commit()
