"""``sqlite:///path``: the embedded default, one file and no server.

WAL mode lets readers in other processes go on while one writes. One connection per store
object, behind a lock: SQLite serialises writers anyway, and the hot path reads from the
manager's cache, not from here.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from policyengine.errors import ConfigError, StorageError
from policyengine.keys.sql import Row, Run, SqlStore
from policyengine.keys.store import register_scheme
from policyengine.redaction import redact

#: How long a writer waits for another process's write lock before giving up.
BUSY_TIMEOUT_SECONDS = 5.0


def sqlite_path(url: str) -> Path:
    """``sqlite:///keys.db`` → ``keys.db``; ``sqlite:////var/lib/keys.db`` → an absolute path."""
    path = url[len("sqlite:///") :] if url.startswith("sqlite:///") else ""
    if not path or path == ":memory:" or "?" in path:
        raise ConfigError(
            f"invalid SQLite store URL {redact(url)!r}: write sqlite:///relative/path.db or "
            "sqlite:////absolute/path.db (for a store in memory, use memory://)"
        )
    return Path(path)


class SqliteStore(SqlStore):
    persistent = True

    def __init__(self, path: Path, *, create: bool = True) -> None:
        self.path = path
        self.secret_file: Path | None = path.with_name(path.name + ".secret")
        self._lock = threading.RLock()
        if not path.exists():
            if not create:
                raise StorageError(f"there is no key store at {path}")
            _create_private_file(path)
        try:
            self._connection = sqlite3.connect(
                path,
                timeout=BUSY_TIMEOUT_SECONDS,
                isolation_level=None,  # we open transactions ourselves
                check_same_thread=False,  # the lock serialises use across threads
            )
            self._connection.execute("PRAGMA journal_mode=WAL")
            # In WAL mode NORMAL loses no committed transaction on a process crash.
            self._connection.execute("PRAGMA synchronous=NORMAL")
        except sqlite3.Error as error:
            raise StorageError(f"cannot open the SQLite key store {path}: {error}") from None
        try:
            self.migrate(datetime.now(UTC))
        except StorageError:
            self._connection.close()
            raise

    @contextmanager
    def _transaction(self, write: bool) -> Iterator[Run]:
        with self._lock:
            connection = self._connection

            def run(sql: str, params: Sequence[object]) -> tuple[list[Row], int]:
                cursor = connection.execute(sql, tuple(params))
                return cursor.fetchall(), cursor.rowcount

            try:
                # IMMEDIATE takes the write lock at the start: a deferred transaction that
                # later writes can fail at once, without waiting, if another process wrote.
                connection.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            except sqlite3.Error as error:
                raise StorageError(f"SQLite key store {self.path}: {error}") from None
            try:
                yield run
            except sqlite3.Error as error:
                connection.rollback()
                raise StorageError(f"SQLite key store {self.path}: {error}") from None
            except BaseException:
                connection.rollback()
                raise
            try:
                connection.commit()
            except sqlite3.Error as error:
                raise StorageError(f"SQLite key store {self.path}: {error}") from None

    def close(self) -> None:
        with self._lock:
            self._connection.close()


def _create_private_file(path: Path) -> None:
    # Keys are stored only as hashes, but labels, networks and metadata are nobody else's
    # business either; SQLite gives its -wal and -shm files the database file's mode.
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        pass
    except OSError as error:
        raise StorageError(f"cannot create the SQLite key store {path}: {error.strerror}") from None


def _open(url: str, create: bool) -> SqliteStore:
    return SqliteStore(sqlite_path(url), create=create)


register_scheme("sqlite", _open)
