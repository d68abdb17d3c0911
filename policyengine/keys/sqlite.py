"""``sqlite:///path``: the embedded default, one file and no server.

The hot path reads from the manager's cache, not from here; the file's hashing secret
lives beside it, in ``<name>.secret``.

The store is a :class:`~policyengine.keys.store.WatchedStore`: triggers log every change
to a key but its last use (a key created, changed, deleted, by any connection, of this
version of policyengine or not) in a table of their own, and ``PRAGMA data_version`` says
whether another connection has committed anything since it was last asked; before
asking, one read of the WAL-index header says whether anyone committed at all. A reader that
finds it moved reads the log from where it stopped, so that its cache drops exactly the
keys that changed, and a last-use write, which the log leaves out, drops nothing.
"""

from __future__ import annotations

from pathlib import Path

from policyengine.db import Migration, open_schema
from policyengine.db.sqlite import SqliteDatabase, sqlite_path
from policyengine.keys.sql import TABLE, SqlStore
from policyengine.keys.store import Changes, register_scheme

CHANGES = f"{TABLE}_changes"
#: How many changes the log keeps; a reader that fell further behind reads everything.
KEPT_CHANGES = 10_000

# Every column but last_used_at: an UPDATE that sets any of them is logged, and a last-use
# write, which sets only last_used_at, is not. A key's every change sets its revision.
_LOGGED_COLUMNS = (
    "id, key_hash, type, label, environment, prefix, last4, created_at, expires_at, scopes, "
    "allowed_ips, rate_limits, usage, metadata, disabled, revoked_at, rotated_to, "
    "rotated_from, grace_until, revision, end_announced, lineage"
)


def _logged(row: str) -> str:
    return (
        f"INSERT INTO {CHANGES} (key_id, key_hash) VALUES ({row}.id, {row}.key_hash); "  # noqa: S608
        f"DELETE FROM {CHANGES} WHERE seq <= (SELECT max(seq) FROM {CHANGES}) - {KEPT_CHANGES};"
    )


CHANGE_MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "log every change to a key but its last use, for the caches of other connections",
        (
            f"""CREATE TABLE {CHANGES} (
                seq INTEGER PRIMARY KEY AUTOINCREMENT,
                key_id TEXT NOT NULL,
                key_hash TEXT NOT NULL
            )""",
            f"CREATE TRIGGER {CHANGES}_insert AFTER INSERT ON {TABLE} BEGIN {_logged('NEW')} END",
            f"CREATE TRIGGER {CHANGES}_update AFTER UPDATE OF {_LOGGED_COLUMNS} ON {TABLE} "
            f"BEGIN {_logged('NEW')} END",
            f"CREATE TRIGGER {CHANGES}_delete AFTER DELETE ON {TABLE} BEGIN {_logged('OLD')} END",
        ),
    ),
)


class SqliteStore(SqlStore):
    def __init__(self, path: Path, *, create: bool = True) -> None:
        self.path = path
        self.secret_file: Path | None = path.with_name(path.name + ".secret")
        database = SqliteDatabase(path, "key store", create=create)
        super().__init__(database)
        self._sqlite = database
        open_schema(database, "keys-changes", CHANGE_MIGRATIONS, "key store")

    def version(self) -> int:
        return self._sqlite.data_version()

    def stamp(self) -> bytes | None:
        return self._sqlite.commit_stamp()

    def key_hashes(self) -> tuple[int, list[str]]:
        with self._transaction(write=False) as run:
            rows, _ = run(f"SELECT coalesce(max(seq), 0) FROM {CHANGES}", ())  # noqa: S608
            hashes, _ = run(f"SELECT key_hash FROM {TABLE}", ())  # noqa: S608
        return int(rows[0][0]), [str(row[0]) for row in hashes]

    def changes_since(self, position: int) -> Changes | None:
        with self._transaction(write=False) as run:
            bounds, _ = run(f"SELECT min(seq), max(seq) FROM {CHANGES}", ())  # noqa: S608
            rows, _ = run(
                f"SELECT seq, key_id, key_hash FROM {CHANGES} WHERE seq > ? ORDER BY seq",  # noqa: S608
                (position,),
            )
        oldest, newest = bounds[0]
        # Sequence numbers have no gaps: a first one past ``position + 1`` means that some
        # were pruned unread; a newest one before ``position``, that the file was replaced.
        if (oldest is not None and int(oldest) > position + 1) or int(newest or 0) < position:
            return None
        keys = tuple((str(key_id), str(key_hash)) for _, key_id, key_hash in rows)
        return Changes(int(rows[-1][0]) if rows else position, keys)


def _open(url: str, create: bool) -> SqliteStore:
    return SqliteStore(sqlite_path(url, "key store"), create=create)


register_scheme("sqlite", _open)
