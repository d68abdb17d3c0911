"""Usage per key and minute, rolled up by hour and day, added up across batches and
processes."""

from __future__ import annotations

from datetime import timedelta

import pytest

from policyengine.errors import MonitorError
from policyengine.record import Usage

from .conftest import EngineFactory
from .support import T0, Clock, get, reader


def test_each_minute_counts_requests_allowed_and_denials_by_code(
    make_engine: EngineFactory, clock: Clock
) -> None:
    engine = make_engine()
    issued = reader(engine, rate_limit="3/minute")
    for _ in range(3):
        engine.check(get(issued.secret))
    engine.check(get(issued.secret, "/v1/keys"))
    clock.advance(seconds=1)
    engine.check(get(issued.secret, ip="198.51.100.1"))
    engine.check(get(issued.secret))  # a fourth in a second is over the limit
    clock.advance(minutes=1)
    engine.check(get(issued.secret))
    engine.flush()
    first, second = engine.monitor.usage(issued.key.id, T0, T0 + timedelta(hours=1))
    assert (first.start, first.step, first.requests, first.allowed) == (T0, "minute", 6, 3)
    assert dict(first.denied) == {
        "INSUFFICIENT_SCOPE": 1,
        "IP_NOT_ALLOWED": 1,
        "RATE_LIMITED": 1,
    }
    assert first.denied_total == 3
    assert first.headroom == 0.0
    assert (second.start, second.requests, second.allowed) == (T0 + timedelta(minutes=1), 1, 1)
    assert second.headroom is not None
    assert 0 < second.headroom < 1


def test_hours_and_days_roll_the_minutes_up(make_engine: EngineFactory, clock: Clock) -> None:
    engine = make_engine()
    issued = reader(engine)
    for _ in range(3):
        engine.check(get(issued.secret))
        clock.advance(minutes=40)
    clock.advance(hours=23)
    engine.check(get(issued.secret, "/v1/keys"))
    engine.flush()
    since, until = T0, T0 + timedelta(days=2)
    minutes = engine.monitor.usage(issued.key.id, since, until, "minute")
    hours = engine.monitor.usage(issued.key.id, since, until, step="hour")
    days = engine.monitor.usage(issued.key.id, since, until, step="day")
    assert [p.requests for p in minutes] == [1, 1, 1, 1]
    assert [(p.start - T0, p.requests) for p in hours] == [
        (timedelta(0), 2),
        (timedelta(hours=1), 1),
        (timedelta(hours=25), 1),
    ]
    assert [(p.start, p.requests, p.allowed) for p in days] == [
        (T0.replace(hour=0), 3, 3),
        (T0.replace(hour=0) + timedelta(days=1), 1, 0),
    ]
    assert dict(days[1].denied) == {"INSUFFICIENT_SCOPE": 1}


def test_credits_spent_are_counted_once_per_allowed_request(
    make_engine: EngineFactory,
) -> None:
    engine = make_engine()
    issued = reader(engine, usage=Usage(2, "monthly"))
    for _ in range(3):
        engine.check(get(issued.secret))
    engine.flush()
    (minute,) = engine.monitor.usage(issued.key.id, T0, T0 + timedelta(minutes=1))
    assert (minute.requests, minute.allowed, minute.credits) == (3, 2, 2)
    assert dict(minute.denied) == {"USAGE_EXCEEDED": 1}


def test_a_bucket_adds_up_across_batches_and_engines(
    make_engine: EngineFactory, monitor_url: str
) -> None:
    if monitor_url == "memory://":
        pytest.skip("engines share a monitor only through a database")
    first = make_engine()
    issued = reader(first)
    first.check(get(issued.secret))
    first.flush()
    first.check(get(issued.secret, "/v1/keys"))
    first.flush()
    second = make_engine(keys=first.keys)
    second.check(get(issued.secret))
    second.flush()
    (minute,) = first.monitor.usage(issued.key.id, T0, T0 + timedelta(minutes=1))
    assert (minute.requests, minute.allowed, dict(minute.denied)) == (
        3,
        2,
        {"INSUFFICIENT_SCOPE": 1},
    )


def test_by_default_the_last_hour_of_minutes(make_engine: EngineFactory, clock: Clock) -> None:
    engine = make_engine()
    issued = reader(engine)
    engine.check(get(issued.secret))
    clock.advance(minutes=90)
    engine.check(get(issued.secret))
    engine.flush()
    assert [p.start for p in engine.monitor.usage(issued.key.id)] == [clock.now.replace(second=0)]
    assert len(engine.monitor.usage(issued.key.id, step="hour")) == 2


def test_usage_is_pruned_with_the_records(make_engine: EngineFactory, clock: Clock) -> None:
    engine = make_engine(retention="1h")
    issued = reader(engine)
    engine.check(get(issued.secret))
    clock.advance(hours=2)
    engine.check(get(issued.secret))
    engine.monitor.prune()
    points = engine.monitor.usage(issued.key.id, T0, clock.now + timedelta(minutes=1))
    assert [p.start for p in points] == [clock.now]


def test_a_bad_step_is_refused(make_engine: EngineFactory) -> None:
    engine = make_engine()
    issued = reader(engine)
    with pytest.raises(MonitorError, match="step must be one of minute, hour, day"):
        engine.monitor.usage(issued.key.id, step="week")  # type: ignore[arg-type]
