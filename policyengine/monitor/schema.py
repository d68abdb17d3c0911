"""The monitor's tables, the same in SQLite and PostgreSQL.

As in the key store, times are integer microseconds since the epoch and structured values
text; the migrations run under the component name ``monitor`` in the shared
``policyengine_migrations`` table.
"""

from __future__ import annotations

from policyengine.db import Migration

COMPONENT = "monitor"
DECISIONS = "policyengine_decisions"
USAGE = "policyengine_usage"
DENIALS = "policyengine_usage_denials"
NETWORKS = "policyengine_key_networks"
ALERTS = "policyengine_alerts"
AUDIT = "policyengine_audit"

MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "create the decision records, usage, key networks, alerts and the audit log",
        (
            # No primary key: ids are unique by construction, and every index costs each
            # of the many inserts; the key's index orders (and so pages) by time and id.
            f"""CREATE TABLE {DECISIONS} (
                id TEXT NOT NULL,
                at BIGINT NOT NULL,
                request_id TEXT NOT NULL,
                code TEXT NOT NULL,
                step TEXT NOT NULL,
                reason TEXT NOT NULL,
                credential TEXT NOT NULL,
                key_id TEXT,
                key_type TEXT,
                key_environment TEXT,
                key_expires_at BIGINT,
                method TEXT,
                path TEXT,
                resource TEXT,
                action TEXT,
                client TEXT,
                rule TEXT,
                rule_location TEXT,
                error TEXT,
                latency_us BIGINT NOT NULL,
                limits TEXT NOT NULL,
                environment TEXT NOT NULL,
                policy TEXT NOT NULL
            )""",
            f"CREATE INDEX {DECISIONS}_key ON {DECISIONS} (key_id, at DESC, id DESC)",
            f"CREATE INDEX {DECISIONS}_client ON {DECISIONS} (client, at DESC, id DESC) "
            "WHERE key_id IS NULL",
            f"CREATE INDEX {DECISIONS}_at ON {DECISIONS} (at)",
            f"""CREATE TABLE {USAGE} (
                key_id TEXT NOT NULL,
                step TEXT NOT NULL,
                start BIGINT NOT NULL,
                requests BIGINT NOT NULL,
                allowed BIGINT NOT NULL,
                credits BIGINT NOT NULL,
                headroom DOUBLE PRECISION,
                PRIMARY KEY (key_id, step, start)
            )""",
            f"CREATE INDEX {USAGE}_start ON {USAGE} (start)",
            f"""CREATE TABLE {DENIALS} (
                key_id TEXT NOT NULL,
                step TEXT NOT NULL,
                start BIGINT NOT NULL,
                code TEXT NOT NULL,
                count BIGINT NOT NULL,
                PRIMARY KEY (key_id, step, start, code)
            )""",
            f"CREATE INDEX {DENIALS}_start ON {DENIALS} (start)",
            # The networks each key has been used from, for the detectors.
            f"""CREATE TABLE {NETWORKS} (
                key_id TEXT NOT NULL,
                network TEXT NOT NULL,
                first_seen BIGINT NOT NULL,
                last_seen BIGINT NOT NULL,
                PRIMARY KEY (key_id, network)
            )""",
            f"""CREATE TABLE {ALERTS} (
                id TEXT PRIMARY KEY,
                kind TEXT NOT NULL,
                severity TEXT NOT NULL,
                subject TEXT NOT NULL,
                subject_type TEXT NOT NULL,
                message TEXT NOT NULL,
                evidence TEXT NOT NULL,
                first_seen BIGINT NOT NULL,
                last_seen BIGINT NOT NULL,
                count BIGINT NOT NULL,
                state TEXT NOT NULL,
                closed_at BIGINT
            )""",
            # At most one open alert of a kind for a subject, whichever process raised it.
            f"CREATE UNIQUE INDEX {ALERTS}_open ON {ALERTS} (kind, subject) WHERE state = 'open'",
            f"CREATE INDEX {ALERTS}_newest ON {ALERTS} (first_seen DESC, id DESC)",
            # Append-only and hash-chained: each entry's mac covers its content and prev.
            f"""CREATE TABLE {AUDIT} (
                seq BIGINT PRIMARY KEY,
                at BIGINT NOT NULL,
                event TEXT NOT NULL,
                actor TEXT NOT NULL,
                subject TEXT NOT NULL,
                details TEXT NOT NULL,
                prev TEXT NOT NULL,
                mac TEXT NOT NULL
            )""",
            f"CREATE INDEX {AUDIT}_subject ON {AUDIT} (subject, at DESC, seq DESC)",
        ),
    ),
    Migration(
        2,
        "index the decision records by request id, which explaining a request looks up",
        # Request ids mostly grow in order (a stem and a counter), so this index costs the
        # inserts little; without it, finding a request walked all of its key's records.
        (f"CREATE INDEX {DECISIONS}_request ON {DECISIONS} (request_id)",),
    ),
)
