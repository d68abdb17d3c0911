"""``sqlite:///path``: the embedded default, one file and no server.

The hot path reads from the manager's cache, not from here; the file's hashing secret
lives beside it, in ``<name>.secret``.
"""

from __future__ import annotations

from pathlib import Path

from policyengine.db.sqlite import SqliteDatabase, sqlite_path
from policyengine.keys.sql import SqlStore
from policyengine.keys.store import register_scheme


class SqliteStore(SqlStore):
    def __init__(self, path: Path, *, create: bool = True) -> None:
        self.path = path
        self.secret_file: Path | None = path.with_name(path.name + ".secret")
        super().__init__(SqliteDatabase(path, "key store", create=create))


def _open(url: str, create: bool) -> SqliteStore:
    return SqliteStore(sqlite_path(url, "key store"), create=create)


register_scheme("sqlite", _open)
