"""Fixtures for the key tests: every store backend, a clock, managers that get closed."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from policyengine.keys.events import KeyEvent
from policyengine.keys.manager import KeyManager
from policyengine.policy.model import PolicySet

from .support import (
    POSTGRES_URL,
    REDIS_URL,
    SECRET,
    Clock,
    policy_set,
    require_postgres,
    require_server,
)

BACKENDS = ("memory", "sqlite", "postgresql")


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A URL whose search path is a fresh schema, dropped afterwards."""
    require_postgres(POSTGRES_URL)
    import psycopg

    schema = f"pe_test_{secrets.token_hex(6)}"
    with psycopg.connect(POSTGRES_URL, autocommit=True) as connection:
        connection.execute(f"CREATE SCHEMA {schema}")
    separator = "&" if "?" in POSTGRES_URL else "?"
    try:
        yield f"{POSTGRES_URL}{separator}options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(POSTGRES_URL, autocommit=True) as connection:
            connection.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture
def redis_url() -> str:
    require_server(REDIS_URL, "Redis")
    return REDIS_URL


@pytest.fixture(params=BACKENDS)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "memory":
        return "memory://"
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'keys.db'}"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture(params=("sqlite", "postgresql"))
def sql_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The backends that keep keys in a database, which other processes can share."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'keys.db'}"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def events() -> list[KeyEvent]:
    return []


@pytest.fixture
def policies() -> PolicySet:
    return policy_set()


ManagerFactory = Callable[..., KeyManager]


@pytest.fixture
def make_manager(
    store_url: str, clock: Clock, events: list[KeyEvent], policies: PolicySet
) -> Iterator[ManagerFactory]:
    """Opens managers over the test's store; all are closed when the test ends."""
    opened: list[KeyManager] = []

    def make(**options: object) -> KeyManager:
        settings: dict[str, object] = {
            "secret": SECRET,
            "clock": clock,
            "events": events.append,
            "maintenance_interval": None,
        }
        settings.update(options)
        url = str(settings.pop("url", store_url))
        manager = KeyManager.open(url, lambda: policies, **settings)
        opened.append(manager)
        return manager

    yield make
    for manager in opened:
        manager.close()


@pytest.fixture
def manager(make_manager: ManagerFactory) -> KeyManager:
    return make_manager()
