"""The API in process: an engine over tDoc's policies and a SQLite file, the application
over the same file, and one key of each type."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from keys.conftest import postgres_url  # noqa: F401 - a fixture, shared with the key tests

from policyengine.engine import Engine
from policyengine.monitor.delivery_settings import DeliverySettings
from portal.app import create_app

ROOT = Path(__file__).resolve().parents[2]
POLICIES = ROOT / "policies"
SECRET = "portal-tests-hashing-secret-0123456789abcdef"
#: The address the in-process client calls from.
CLIENT = ("127.0.0.1", 50000)


@dataclass(frozen=True)
class Sent:
    """A delivery the API queued: for which hook, to where, of what kind, with what data."""

    hook_id: str
    url: str
    kind: str
    data: Any


def sent(client: TestClient) -> list[Sent]:
    """Every delivery the application queued, oldest first (the tests' queue sends none)."""
    queue = client.app.state.services.notices.queue  # type: ignore[attr-defined]
    found = queue.list(limit=1000)
    return [Sent(d.target, d.url, d.event_type, d.payload) for d in reversed(found.items)]


@pytest.fixture
def store_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'tdoc.db'}"


def tdoc_engine(store_url: str, **options: Any) -> Engine:
    """An engine over tDoc's policies and ``store_url``, as the tests build them."""
    return Engine.from_directory(
        POLICIES,
        environment="test",
        store=store_url,
        secret=SECRET,
        maintenance_interval=None,
        handle_signals=False,
        **options,
    )


@pytest.fixture
def engine(store_url: str) -> Iterator[Engine]:
    built = tdoc_engine(store_url)
    yield built
    built.close()


AppFactory = Callable[..., FastAPI]


@pytest.fixture
def make_app(engine: Engine, store_url: str) -> AppFactory:
    def make(**options: Any) -> FastAPI:
        settings: dict[str, Any] = {
            "store": store_url,
            # Deliveries are queued and logged, and nothing is sent.
            "delivery": DeliverySettings(workers=0),
            "close_engine": False,
            "poll": 0.05,
            "pages": False,
        }
        settings.update(options)
        return create_app(engine, **settings)

    return make


@pytest.fixture
def client(make_app: AppFactory) -> Iterator[TestClient]:
    with TestClient(make_app(), client=CLIENT) as test_client:
        yield test_client


@dataclass(frozen=True)
class Keys:
    admin: str
    writer: str
    reader: str
    scoped: str
    ids: dict[str, str]


@pytest.fixture
def keys(engine: Engine) -> Keys:
    made = {
        "admin": engine.keys.create(type="full-access", label="admin", environment="test"),
        "writer": engine.keys.create(type="write", label="writer", environment="test"),
        "reader": engine.keys.create(type="read-only", label="reader", environment="test"),
        "scoped": engine.keys.create(
            type="scoped", label="events", environment="test", scopes=["events:read"]
        ),
    }
    return Keys(
        **{name: issued.secret for name, issued in made.items()},
        ids={name: issued.key.id for name, issued in made.items()},
    )


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


EVENT = {
    "name": "Quarterly planning",
    "starts_at": "2026-03-02T09:00:00+01:00",
    "ends_at": "2026-03-02T17:30:00+01:00",
    "location": "Berlin",
}


def wait_for_run(
    client: TestClient, location: str, key: str, timeout: float = 10.0
) -> dict[str, Any]:
    """Poll a run until it ends (or fail after ``timeout`` seconds)."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        run: dict[str, Any] = client.get(location, headers=bearer(key)).json()
        if run["state"] in ("succeeded", "failed"):
            return run
        if time.monotonic() > deadline:
            raise AssertionError(f"the run did not end in {timeout}s: {run}")
        time.sleep(0.05)


def settled(engine: Engine) -> None:
    """Everything the monitor was handed is written: the decisions can be read."""
    assert engine.monitor.flush(10)
