"""Fixtures for the monitor: every store backend, a clock, engines that get closed."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from keys.conftest import postgres_url  # noqa: F401 - a fixture, used by name

from policyengine.engine import Engine

from .support import POLICIES, SECRET, Clock

BACKENDS = ("memory", "sqlite", "postgresql")


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture(params=BACKENDS)
def monitor_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "memory":
        return "memory://"
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'monitor.db'}"
    return str(request.getfixturevalue("postgres_url"))


EngineFactory = Callable[..., Engine]


@pytest.fixture
def make_engine(monitor_url: str, clock: Clock) -> Iterator[EngineFactory]:
    """Opens engines over tDoc's policies with the test's monitor; all closed at the end."""
    opened: list[Engine] = []

    def make(**options: object) -> Engine:
        settings: dict[str, object] = {
            "environment": "live",
            "store": "memory://",
            "secret": SECRET,
            "clock": clock,
            "maintenance_interval": None,
            "monitor": monitor_url,
            "handle_signals": False,
        }
        settings.update(options)
        directory = settings.pop("policies_dir", POLICIES)
        engine = Engine.from_directory(directory, **settings)  # type: ignore[arg-type]
        opened.append(engine)
        return engine

    yield make
    for engine in opened:
        engine.close()


@pytest.fixture
def engine(make_engine: EngineFactory) -> Engine:
    return make_engine()
