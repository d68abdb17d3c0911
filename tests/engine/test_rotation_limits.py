"""Rate limits and usage credits belong to the key, not to its secret: a rotation keeps them.

Whoever may rotate a key must not be able to refill its credits or its rate limit by
rotating it, in either limiter, however many times, during the grace period or after.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from conftest import Clock, tdoc_engine

from policyengine.decision import Code
from policyengine.engine import Engine
from policyengine.limits import Limiter
from policyengine.record import Usage
from policyengine.request import Request

CLIENT = "203.0.113.9"


@pytest.fixture
def engine(clock: Clock, limiter: Limiter) -> Iterator[Engine]:
    with tdoc_engine(clock, limiter=limiter) as built:
        yield built


def get(secret: str) -> Request:
    return Request(credential=secret, method="GET", path="/v1/events", ip=CLIENT)


def spend(engine: Engine, secret: str, count: int) -> list[Code]:
    return [engine.check(get(secret)).code for _ in range(count)]


def test_rotating_does_not_refill_lifetime_credits(engine: Engine) -> None:
    issued = engine.keys.create(
        type="read-only", label="capped", environment="live", usage=Usage(3, "never")
    )
    assert spend(engine, issued.secret, 4) == [Code.OK] * 3 + [Code.USAGE_EXCEEDED]
    first = engine.keys.rotate(issued.key.id, grace="0s")
    assert spend(engine, first.secret, 1) == [Code.USAGE_EXCEEDED]
    second = engine.keys.rotate(first.key.id, grace="0s")
    assert spend(engine, second.secret, 1) == [Code.USAGE_EXCEEDED]


def test_credits_spent_by_both_secrets_in_the_grace_period_add_up(engine: Engine) -> None:
    issued = engine.keys.create(
        type="read-only", label="capped", environment="live", usage=Usage(4, "never")
    )
    assert spend(engine, issued.secret, 1) == [Code.OK]
    rotated = engine.keys.rotate(issued.key.id, grace="1h")
    assert spend(engine, issued.secret, 1) == [Code.OK]
    assert spend(engine, rotated.secret, 1) == [Code.OK]
    again = engine.keys.rotate(rotated.key.id, grace="1h")
    assert spend(engine, again.secret, 1) == [Code.OK]
    # Four credits in all, across three secrets, two of them still in their grace period.
    assert spend(engine, issued.secret, 1) == [Code.USAGE_EXCEEDED]
    assert spend(engine, rotated.secret, 1) == [Code.USAGE_EXCEEDED]
    assert spend(engine, again.secret, 1) == [Code.USAGE_EXCEEDED]


def test_rotating_does_not_reset_the_rate_limit(engine: Engine) -> None:
    issued = engine.keys.create(
        type="read-only", label="limited", environment="live", rate_limit="2/minute"
    )
    assert spend(engine, issued.secret, 3) == [Code.OK, Code.OK, Code.RATE_LIMITED]
    rotated = engine.keys.rotate(issued.key.id, grace="0s")
    denied = engine.check(get(rotated.secret))
    assert denied.code is Code.RATE_LIMITED
    assert "Retry-After" in denied.headers
    twice = engine.keys.rotate(rotated.key.id, grace="0s")
    assert spend(engine, twice.secret, 1) == [Code.RATE_LIMITED]


def test_the_rate_limit_refills_with_time_whichever_secret_is_used(
    engine: Engine, clock: Clock
) -> None:
    issued = engine.keys.create(
        type="read-only", label="limited", environment="live", rate_limit="2/minute"
    )
    assert spend(engine, issued.secret, 2) == [Code.OK, Code.OK]
    rotated = engine.keys.rotate(issued.key.id, grace="1h")
    assert spend(engine, rotated.secret, 1) == [Code.RATE_LIMITED]
    clock.advance(30)
    assert spend(engine, rotated.secret, 1) == [Code.OK]
    assert spend(engine, issued.secret, 1) == [Code.RATE_LIMITED]


def test_separate_keys_keep_separate_limits(engine: Engine) -> None:
    one = engine.keys.create(
        type="read-only", label="one", environment="live", usage=Usage(1, "never")
    )
    two = engine.keys.create(
        type="read-only", label="two", environment="live", usage=Usage(1, "never")
    )
    assert spend(engine, one.secret, 2) == [Code.OK, Code.USAGE_EXCEEDED]
    assert spend(engine, two.secret, 1) == [Code.OK]
