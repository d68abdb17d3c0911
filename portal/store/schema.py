"""tDoc's tables, beside the keys' in the same database, and the migrations that make them.

Times are integer microseconds since the epoch, as in the key store; an event's start and
end also keep the UTC offset they were given in, so that they are returned as written.
Lists and maps are JSON text.
"""

from __future__ import annotations

from policyengine.db import Migration

#: The name tDoc's migrations are recorded under.
COMPONENT = "tdoc"

MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "create events, members, tasks, runs, hooks and settings",
        (
            """CREATE TABLE tdoc_events (
                id TEXT PRIMARY KEY,
                name TEXT NOT NULL,
                description TEXT NOT NULL,
                starts_at BIGINT NOT NULL,
                starts_offset INTEGER NOT NULL,
                ends_at BIGINT NOT NULL,
                ends_offset INTEGER NOT NULL,
                location TEXT NOT NULL,
                created_at BIGINT NOT NULL,
                updated_at BIGINT NOT NULL,
                created_by TEXT NOT NULL
            )""",
            "CREATE INDEX tdoc_events_newest ON tdoc_events (created_at DESC, id DESC)",
            """CREATE TABLE tdoc_members (
                event_id TEXT NOT NULL,
                user_id TEXT NOT NULL,
                role TEXT NOT NULL,
                created_at BIGINT NOT NULL,
                updated_at BIGINT NOT NULL,
                PRIMARY KEY (event_id, user_id)
            )""",
            """CREATE TABLE tdoc_tasks (
                id TEXT PRIMARY KEY,
                name TEXT NOT NULL,
                description TEXT NOT NULL,
                steps TEXT NOT NULL,
                created_at BIGINT NOT NULL,
                created_by TEXT NOT NULL
            )""",
            "CREATE INDEX tdoc_tasks_newest ON tdoc_tasks (created_at DESC, id DESC)",
            """CREATE TABLE tdoc_runs (
                id TEXT PRIMARY KEY,
                task_id TEXT NOT NULL,
                state TEXT NOT NULL,
                steps TEXT NOT NULL,
                key_id TEXT NOT NULL,
                scopes TEXT,
                client_ip TEXT,
                created_at BIGINT NOT NULL,
                started_at BIGINT,
                finished_at BIGINT,
                lease_owner TEXT,
                lease_until BIGINT,
                attempts INTEGER NOT NULL,
                error TEXT
            )""",
            "CREATE INDEX tdoc_runs_queue ON tdoc_runs (state, created_at)",
            "CREATE INDEX tdoc_runs_task ON tdoc_runs (task_id, created_at DESC, id DESC)",
            """CREATE TABLE tdoc_hooks (
                id TEXT PRIMARY KEY,
                url TEXT NOT NULL,
                events TEXT NOT NULL,
                description TEXT NOT NULL,
                secret TEXT NOT NULL,
                created_at BIGINT NOT NULL,
                created_by TEXT NOT NULL
            )""",
            "CREATE INDEX tdoc_hooks_newest ON tdoc_hooks (created_at DESC, id DESC)",
            """CREATE TABLE tdoc_settings (
                name TEXT PRIMARY KEY,
                value TEXT NOT NULL,
                set_at BIGINT NOT NULL
            )""",
        ),
    ),
)
