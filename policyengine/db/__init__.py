"""What every SQL-backed part shares: connections, transactions and schema migrations.

The key store and the monitor each keep their own tables, and each runs its own
migrations under its own component name in one ``policyengine_migrations`` table; the
SQL they write is the subset that SQLite and PostgreSQL both speak, with ``?``
placeholders. A database here only opens connections and runs transactions.
"""

from policyengine.db.migrations import (
    Database,
    Migration,
    Row,
    Run,
    migrate,
    open_schema,
    schema_version,
)

__all__ = [
    "Database",
    "Migration",
    "Row",
    "Run",
    "migrate",
    "open_schema",
    "schema_version",
]
