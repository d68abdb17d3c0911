"""What only the in-process backend must show: bounded memory and thread safety."""

from __future__ import annotations

import threading

import pytest

from policyengine.errors import ConfigError
from policyengine.limits import MemoryLimiter, open_limiter
from policyengine.policy.model import RateLimit
from policyengine.record import Usage
from policyengine.units import parse_rate

from .conftest import MIDNIGHT

MINUTE = (RateLimit("minute", parse_rate("10/minute")),)


def test_state_of_keys_gone_idle_is_dropped() -> None:
    limiter = MemoryLimiter()
    for i in range(5_000):
        limiter.acquire(f"old-{i}", MINUTE, None, MIDNIGHT)
    assert len(limiter) > 1_000
    # An hour later those buckets are full again, so holding them would be waste.
    for i in range(3_000):
        limiter.acquire(f"new-{i}", MINUTE, None, MIDNIGHT + 3_600)
    assert len(limiter) == 3_000


def test_keys_with_credits_still_counting_are_kept() -> None:
    limiter = MemoryLimiter()
    usage = Usage(1, "daily")
    limiter.acquire("capped", MINUTE, usage, MIDNIGHT)
    for i in range(5_000):
        limiter.acquire(f"other-{i}", MINUTE, None, MIDNIGHT + 3_600)
    assert limiter.acquire("capped", MINUTE, usage, MIDNIGHT + 3_600).code == "USAGE_EXCEEDED"
    assert limiter.acquire("capped", MINUTE, usage, MIDNIGHT + 86_400).allowed


def test_threads_on_one_key_admit_exactly_the_limit() -> None:
    limiter = MemoryLimiter()
    limits = (RateLimit("day", parse_rate("500/day")),)
    usage = Usage(10_000, "never")
    start = threading.Barrier(8)
    passed: list[int] = []

    def work() -> None:
        start.wait()
        passed.append(
            sum(limiter.acquire("shared", limits, usage, MIDNIGHT).allowed for _ in range(200))
        )

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(passed) == 500
    assert limiter.peek("shared", limits, usage, MIDNIGHT).usage.remaining == 10_000 - 500  # type: ignore[union-attr]


def test_memory_url_opens_an_in_process_limiter() -> None:
    assert isinstance(open_limiter("memory://"), MemoryLimiter)


def test_a_memory_url_with_an_address_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="memory://"):
        open_limiter("memory://somewhere")
