"""``sqlite:///path``: one file and no server.

WAL mode lets readers in other processes go on while one writes. One connection per
database object, behind a lock: SQLite serialises writers anyway.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from policyengine.db.migrations import Row, Run
from policyengine.errors import ConfigError, StorageError
from policyengine.redaction import redact

#: How long a writer waits for another process's write lock before giving up.
BUSY_TIMEOUT_SECONDS = 5.0
#: The WAL-index header's first copy, in bytes.
_WAL_INDEX_HEADER = 48


def sqlite_path(url: str, what: str = "store") -> Path:
    """``sqlite:///keys.db`` → ``keys.db``; ``sqlite:////var/lib/keys.db`` → an absolute path."""
    path = url[len("sqlite:///") :] if url.startswith("sqlite:///") else ""
    if not path or path == ":memory:" or "?" in path:
        raise ConfigError(
            f"invalid SQLite {what} URL {redact(url)!r}: write sqlite:///relative/path.db or "
            f"sqlite:////absolute/path.db (for a {what} in memory, use memory://)"
        )
    return Path(path)


class SqliteDatabase:
    """``what`` names the database in errors: ``key store``, ``monitor``."""

    def __init__(self, path: Path, what: str, *, create: bool = True) -> None:
        self.path = path
        self.what = what
        self._lock = threading.RLock()
        #: The ``-shm`` file, opened at the first :meth:`commit_stamp` (-1: unreadable).
        self._shm: int | None = None
        if not path.exists():
            if not create:
                raise StorageError(f"there is no {what} at {path}")
            _create_private_file(path, what)
        try:
            self._connection = sqlite3.connect(
                path,
                timeout=BUSY_TIMEOUT_SECONDS,
                isolation_level=None,  # we open transactions ourselves
                check_same_thread=False,  # the lock serialises use across threads
            )
            # SQLite's own lower() folds ASCII only; PostgreSQL's and Python's fold every
            # letter, so a case-blind filter would find different rows in different stores.
            self._connection.create_function("lower", 1, _lower, deterministic=True)
            self._connection.execute("PRAGMA journal_mode=WAL")
            # In WAL mode NORMAL loses no committed transaction on a process crash.
            self._connection.execute("PRAGMA synchronous=NORMAL")
        except sqlite3.Error as error:
            raise StorageError(f"cannot open the SQLite {what} {path}: {error}") from None

    def exclusive(self, name: int) -> str | None:
        # A write transaction begins IMMEDIATE: it holds the database's one write lock.
        return None

    @contextmanager
    def transaction(self, write: bool) -> Iterator[Run]:
        """A transaction that commits on leaving and rolls back on an error; every database
        error inside it (or in opening it) becomes a :class:`StorageError`."""
        with self._lock:
            connection = self._connection
            run = _Run(connection)
            try:
                # IMMEDIATE takes the write lock at the start: a deferred transaction that
                # later writes can fail at once, without waiting, if another process wrote.
                connection.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            except sqlite3.Error as error:
                raise StorageError(f"SQLite {self.what} {self.path}: {error}") from None
            try:
                yield run
            except sqlite3.Error as error:
                connection.rollback()
                raise StorageError(f"SQLite {self.what} {self.path}: {error}") from None
            except BaseException:
                connection.rollback()
                raise
            try:
                connection.commit()
            except sqlite3.Error as error:
                raise StorageError(f"SQLite {self.what} {self.path}: {error}") from None

    def data_version(self) -> int:
        """A number that moves whenever another connection, in this process or another,
        commits to the database; this connection's own commits leave it as it is."""
        with self._lock:
            try:
                return int(self._connection.execute("PRAGMA data_version").fetchone()[0])
            except sqlite3.Error as error:
                raise StorageError(f"SQLite {self.what} {self.path}: {error}") from None

    def commit_stamp(self) -> bytes | None:
        """The WAL-index header, which every commit by any connection rewrites (its change
        counter moves: https://www.sqlite.org/walformat.html): one read of the ``-shm``
        file, no query, to tell whether anything was committed since it was last read.
        ``None`` where that cannot be read (the database is not in WAL mode)."""
        shm = self._shm
        if shm is None:
            shm = self._shm = self._open_shm()
        if shm < 0:
            return None
        try:
            return os.pread(shm, _WAL_INDEX_HEADER, 0)
        except OSError:
            return None

    def _open_shm(self) -> int:
        with self._lock:
            try:
                mode = self._connection.execute("PRAGMA journal_mode").fetchone()[0]
                # The file exists once this connection has read in WAL mode.
                self._connection.execute("PRAGMA data_version").fetchone()
            except sqlite3.Error:
                return -1
            if str(mode).lower() != "wal":
                return -1
            try:
                return os.open(f"{self.path}-shm", os.O_RDONLY)
            except OSError:
                return -1

    def close(self) -> None:
        with self._lock:
            self._connection.close()
            if self._shm is not None and self._shm >= 0:
                os.close(self._shm)
            self._shm = -1


class _Run:
    __slots__ = ("_connection",)

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._connection = connection

    def __call__(self, sql: str, params: Sequence[object], /) -> tuple[list[Row], int]:
        cursor = self._connection.execute(sql, tuple(params))
        return cursor.fetchall(), cursor.rowcount

    def many(self, sql: str, rows: Sequence[Sequence[object]], /) -> None:
        self._connection.executemany(sql, rows)


def _lower(text: str | None) -> str | None:
    return None if text is None else text.lower()


def _create_private_file(path: Path, what: str) -> None:
    # Labels, networks, addresses and metadata are nobody else's business; SQLite gives
    # its -wal and -shm files the database file's mode.
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        pass
    except OSError as error:
        raise StorageError(f"cannot create the SQLite {what} {path}: {error.strerror}") from None
