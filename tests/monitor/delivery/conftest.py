"""Fixtures for the delivery tests: every log backend, a clock, queues that get closed."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

# The key tests' clock and backends: store_url is each of memory, SQLite and PostgreSQL (a fresh
# schema), sql_url the two that several processes can share.
from keys.conftest import clock, postgres_url, sql_url, store_url  # noqa: F401 - fixtures

from policyengine.monitor.delivery import DeliveryQueue
from policyengine.monitor.delivery_settings import DeliverySettings
from policyengine.monitor.webhooks import generate_secret
from policyengine.net import NetworkSet

#: Tests name loopback, and only its one address, as the allowed private network.
LOOPBACK = NetworkSet(["127.0.0.1/32"])


def fast_settings(**overrides: object) -> DeliverySettings:
    """A tiny schedule and timeout, so that a whole retry history takes a second or two."""
    options: dict[str, object] = {
        "schedule": (0.05, 0.1, 0.2),
        "timeout": 2.0,  # generous: other test runs share this machine's two cores
        "allow": LOOPBACK,
        "workers": 1,
        "batch": 2,
        "lease": 10.0,
        "poll_interval": 0.05,
    }
    options.update(overrides)
    return DeliverySettings(**options)  # type: ignore[arg-type]


def one_attempt(**overrides: object) -> DeliverySettings:
    """:func:`fast_settings` whose retries are half a minute away, so that ``run_due()``
    after a failed attempt makes just that one however long it took (the fast schedule's
    first retry is due 50 ms later, within the same ``run_due()`` on a busy machine)."""
    return fast_settings(**{"schedule": (30.0, 30.0, 30.0), **overrides})


@pytest.fixture
def secret() -> str:
    return generate_secret()


QueueFactory = Callable[..., DeliveryQueue]


@pytest.fixture
def make_queue(tmp_path: Path, secret: str) -> Iterator[QueueFactory]:
    """Opens queues (over a SQLite log unless ``url=`` names another), each signing with
    ``secret`` unless given ``secrets=``; all are closed when the test ends."""
    opened: list[DeliveryQueue] = []

    def make(**options: object) -> DeliveryQueue:
        url = str(options.pop("url", f"sqlite:///{tmp_path / 'deliveries.db'}"))
        secrets = options.pop("secrets", lambda target: secret)
        settings = options.pop("settings", fast_settings())
        queue = DeliveryQueue.open(url, secrets, settings, **options)  # type: ignore[arg-type]
        opened.append(queue)
        return queue

    yield make
    for queue in opened:
        queue.close()
