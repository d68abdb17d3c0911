"""What only the in-process backend must show: bounded memory, thread safety, and a
direct path for the common case that answers as the general one."""

from __future__ import annotations

import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from policyengine.errors import ConfigError
from policyengine.limits import MemoryLimiter, open_limiter
from policyengine.limits.gcra import MICROS
from policyengine.limits.outcome import LimitOutcome
from policyengine.policy.model import RateLimit
from policyengine.record import Usage
from policyengine.units import parse_rate

from .conftest import MIDNIGHT
from .strategies import limit_sets, request_times

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


def test_a_bucket_full_again_at_the_instant_of_a_sweep_is_swept() -> None:
    limiter = MemoryLimiter()
    per_second = (RateLimit("second", parse_rate("1/second")),)
    for i in range(1_024):
        limiter.acquire(f"old-{i}", per_second, None, MIDNIGHT)
    # One second later each of those buckets is exactly full again: nothing to keep.
    limiter.acquire("new", per_second, None, MIDNIGHT + 1)
    assert len(limiter) == 1


def test_idle_state_is_swept_once_the_table_has_doubled_or_a_minute_has_passed() -> None:
    limiter = MemoryLimiter()
    brief = (RateLimit("brief", parse_rate("1000/second")),)  # idle a millisecond later
    for i in range(1_025):  # the 1025th key sweeps, and finds nothing idle yet
        limiter.acquire(f"old-{i}", brief, None, MIDNIGHT)
    for i in range(1_025):  # within the minute, the idle keys wait for the table to double
        limiter.acquire(f"new-{i}", brief, None, MIDNIGHT + 1)
    assert len(limiter) == 2_050
    limiter.acquire("one-more", brief, None, MIDNIGHT + 1)
    assert len(limiter) == 1_026
    limiter.acquire("later", brief, None, MIDNIGHT + 61)  # a minute on: swept again
    assert len(limiter) == 1


BRIEF = RateLimit("brief", parse_rate("1000/second"))  # idle a millisecond later


@pytest.mark.parametrize(
    ("limits", "usage"),
    [
        pytest.param((BRIEF,), Usage(5, "daily"), id="with-credits"),
        pytest.param((BRIEF, RateLimit("day", parse_rate("1/day"))), None, id="two-limits"),
    ],
)
def test_every_kind_of_check_sweeps_idle_state_alike(
    limits: tuple[RateLimit, ...], usage: Usage | None
) -> None:
    # Idle state is left by one brief limit; checks of another kind, kept for a day,
    # come at the instants a sweep is or is not due, and must sweep just as the others.
    limiter = MemoryLimiter()
    for i in range(1_024):
        limiter.acquire(f"old-{i}", (BRIEF,), None, MIDNIGHT)
    limiter.acquire("check-0", limits, usage, MIDNIGHT)  # sweeps, finds nothing idle yet
    assert len(limiter) == 1_025
    for i in range(1_024):
        limiter.acquire(f"new-{i}", (BRIEF,), None, MIDNIGHT + 1)
    limiter.acquire("check-1", limits, usage, MIDNIGHT + 1)  # not yet doubled: kept
    assert len(limiter) == 2_050
    limiter.acquire("check-2", limits, usage, MIDNIGHT + 1)  # doubled: the old go
    assert len(limiter) == 1_027
    limiter.acquire("check-3", limits, usage, MIDNIGHT + 61)  # a minute on, to the µs
    assert len(limiter) == 4
    for i in range(1_019):
        limiter.acquire(f"late-{i}", (BRIEF,), None, MIDNIGHT + 121)
    limiter.acquire("check-4", limits, usage, MIDNIGHT + 122)  # 1024 keys: no sweep yet
    assert len(limiter) == 1_024
    limiter.acquire("check-5", limits, usage, MIDNIGHT + 86_600)  # the checks' day is over
    assert len(limiter) == 1


def test_credits_that_end_at_the_epoch_are_swept_at_the_epoch() -> None:
    limiter = MemoryLimiter()
    usage = Usage(1, "daily")
    for i in range(1_024):  # the last day before the epoch
        limiter.acquire(f"old-{i}", (), usage, -43_200.0)
    limiter.acquire("new", (), usage, 0.0)  # the 1025th key sweeps
    assert len(limiter) == 1


def test_the_credits_of_a_period_are_refilled_once_the_next_begins() -> None:
    # The counter of a day that ended is dropped at the first check of the next day, so
    # a request still stamped with the old day then finds it refilled.
    limiter = MemoryLimiter()
    usage = Usage(1, "daily")
    assert limiter.acquire("k", (), usage, MIDNIGHT - 1).allowed
    assert not limiter.acquire("k", (), usage, MIDNIGHT - 0.5).allowed
    assert limiter.acquire("k", (), usage, MIDNIGHT).allowed
    assert limiter.acquire("k", (), usage, MIDNIGHT - 0.5).allowed


def test_resetting_a_key_never_seen_is_harmless() -> None:
    limiter = MemoryLimiter()
    limiter.reset("never-seen")
    assert len(limiter) == 0
    assert limiter.acquire("never-seen", MINUTE, None, MIDNIGHT).allowed


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
    with pytest.raises(ConfigError) as raised:
        open_limiter("memory://admin:s3cret@somewhere")
    assert str(raised.value) == (
        "invalid limiter URL 'memory://admin:***@somewhere': the in-memory limiter is memory://"
    )


def _seen(outcome: LimitOutcome) -> tuple[object, ...]:
    """Everything an outcome tells its reader."""
    return (
        outcome.allowed,
        outcome.code,
        outcome.retry_after,
        outcome.denied_by,
        outcome.states,
        outcome.usage,
        outcome.headroom(),
    )


@settings(max_examples=200, deadline=None)
@given(chosen=limit_sets(), data=st.data())
def test_the_direct_path_answers_as_the_general_step_admitted_or_denied(
    chosen: tuple[tuple[RateLimit, ...], Usage | None], data: st.DataObject
) -> None:
    # The direct path (rate limits, no credits) must give the outcome and leave
    # the state that the general step through ``evaluate`` gives, request after request.
    limits, _ = chosen
    times = data.draw(request_times(60.0))
    direct, general = MemoryLimiter(), MemoryLimiter()
    start = 1_700_000_000.0
    for offset in times:
        at = round((start + offset) * MICROS)
        got = direct.acquire("key", limits, None, start + offset)
        expected = general._evaluated("key", limits, None, at, True)
        assert _seen(got) == _seen(expected)
        assert direct.peek("key", limits, None, start + offset).headroom() == (
            general.peek("key", limits, None, start + offset).headroom()
        )
