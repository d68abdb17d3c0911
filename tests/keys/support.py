"""What the key tests share besides fixtures: a policy set, a clock, the servers' URLs.

PostgreSQL and Redis are the real servers on this machine. A test that needs one skips
when it is absent, except under ``CI=true``, where an absent server fails the run: CI must
not go green by testing less.
"""

from __future__ import annotations

import os
import socket
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest

from policyengine.errors import StorageError
from policyengine.keys.store import StoredKey
from policyengine.policy.model import KeyType, PolicySet, RateLimit
from policyengine.policy.scopes import Scope, parse_scope
from policyengine.units import parse_rate

POSTGRES_URL = os.environ.get(
    "POLICYENGINE_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("POLICYENGINE_TEST_REDIS", "redis://127.0.0.1:6379/0")
SECRET = "test-hashing-secret-" + "x" * 32


def scopes(*texts: str) -> tuple[Scope, ...]:
    return tuple(parse_scope(text) for text in texts)


def policy_set() -> PolicySet:
    """tDoc's four key types, and one that requires fields, for the requires checks."""
    return PolicySet(
        key_prefix="tdoc",
        key_types={
            "read-only": KeyType(
                "read-only",
                "Limited access for data retrieval operations",
                scopes("events:read", "tasks:read", "hooks:read"),
                rate_limits=(RateLimit("default", parse_rate("600/minute")),),
            ),
            "write": KeyType(
                "write",
                "Read and write",
                scopes("events:read", "events:write", "tasks:*", "hooks:read", "hooks:write"),
            ),
            "full-access": KeyType(
                "full-access", "Complete API access", scopes("*"), max_lifetime=90 * 86400
            ),
            "scoped": KeyType(
                "scoped",
                "Custom-defined access",
                None,
                allowed_scopes=scopes("events:*", "tasks:*", "hooks:*"),
            ),
            "partner": KeyType(
                "partner",
                "Live-only keys for partners, restricted to their networks",
                scopes("events:read"),
                requires=("allowed_ips", "metadata.team"),
                environments=("live",),
            ),
        },
    )


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, start: datetime = datetime(2030, 1, 15, 12, 0, tzinfo=UTC)) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def require_server(url: str, name: str) -> None:
    """Skip (or, under CI, fail) unless the server behind ``url`` accepts connections."""
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 0), 2):
            return
    except OSError as error:
        _absent(f"{name} is not reachable at {parts.hostname}:{parts.port}: {error}")


def require_postgres(url: str = POSTGRES_URL) -> None:
    """As :func:`require_server`, and the server must let the test user into the test
    database: a PostgreSQL that runs without them skips the tests too."""
    require_server(url, "PostgreSQL")
    import psycopg

    try:
        psycopg.connect(url, connect_timeout=2).close()
    except psycopg.Error as error:
        parts = urlsplit(url)
        reason = " ".join(str(error).split())
        _absent(
            f"PostgreSQL at {parts.hostname}:{parts.port} does not let {parts.username} into "
            f"the database {parts.path.lstrip('/')!r} ({reason}); point "
            "POLICYENGINE_TEST_POSTGRES at one that does"
        )


def _absent(message: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"{message} (CI=true: a missing server fails the run)")
    pytest.skip(message)


class CountsLookups:
    """Mixed into a store: counts the lookups by hash that reach it, and fails them (and,
    in the store's own methods, whatever else it says) while ``down``."""

    hash_lookups = 0
    down = False

    def get_by_hash(self, key_hash: str) -> StoredKey | None:
        self.hash_lookups += 1
        if self.down:
            raise StorageError("the store is down")
        return super().get_by_hash(key_hash)  # type: ignore[misc, no-any-return]
