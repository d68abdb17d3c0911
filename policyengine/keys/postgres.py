"""``postgresql://…``: keys shared by every instance of a service, through a connection pool.

The schema and queries are :mod:`policyengine.keys.sql`'s, the same as SQLite's. To keep
the tables in a schema of their own, put it on the search path in the URL:
``postgresql://app@db/main?options=-csearch_path%3Dpolicyengine``.
"""

from __future__ import annotations

from pathlib import Path

from policyengine.db.postgres import PostgresDatabase
from policyengine.keys.sql import SqlStore
from policyengine.keys.store import register_scheme


class PostgresStore(SqlStore):
    secret_file: Path | None = None

    def __init__(self, url: str, *, min_size: int = 1, max_size: int = 10) -> None:
        super().__init__(
            PostgresDatabase(
                url, "key store", "policyengine-keys", min_size=min_size, max_size=max_size
            )
        )


def _open(url: str, create: bool) -> PostgresStore:
    # A database server's schema is created by migrations whether asked to or not: unlike a
    # SQLite path, a URL cannot name a store that is not there by mistake.
    return PostgresStore(url)


register_scheme("postgresql", _open)
register_scheme("postgres", _open)
