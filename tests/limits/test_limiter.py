"""Both backends, one behaviour: GCRA limits, all-or-nothing, usage credits, peek, reset."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from policyengine.limits import Limiter, LimitOutcome, LimitState
from policyengine.policy.model import RateLimit
from policyengine.record import Usage
from policyengine.units import Rate, make_rate, parse_rate

from .conftest import MIDNIGHT, Backend
from .strategies import assert_within_bound, limit_sets, rates, request_times


def named(name: str, rate: str | Rate) -> RateLimit:
    return RateLimit(name, parse_rate(rate) if isinstance(rate, str) else rate)


def at(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def seen(outcome: LimitOutcome) -> tuple[object, ...]:
    """Everything a caller can observe of an outcome."""
    return (
        outcome.allowed,
        outcome.code,
        outcome.retry_after,
        outcome.denied_by,
        outcome.states,
        outcome.usage,
    )


def test_over_any_interval_at_most_burst_plus_rate_times_t_are_admitted(
    backend: Backend,
) -> None:
    @settings(max_examples=backend.examples, deadline=None)
    @given(st.data(), rates)
    def check(data: st.DataObject, rate: Rate) -> None:
        times = data.draw(request_times(rate.period))
        limits = (RateLimit("default", rate),)
        with backend.open() as limiter:
            admitted = [
                t for t in times if limiter.acquire("k", limits, None, MIDNIGHT + t).allowed
            ]
        assert admitted[:1] == times[:1]  # the bucket starts full
        assert_within_bound(admitted, rate)

    check()


def test_interleaved_denied_attempts_change_nothing_that_follows(backend: Backend) -> None:
    """Key B sees key A's requests, plus retries after each denial: B must fare as A does."""

    @settings(max_examples=backend.examples, deadline=None)
    @given(st.data(), limit_sets(), st.integers(1, 3))
    def check(data: st.DataObject, config: tuple, retries: int) -> None:  # type: ignore[type-arg]
        limits, usage = config
        times = data.draw(request_times(min(limit.rate.period for limit in limits), 30))
        with backend.open() as limiter:
            for t in times:
                plain = limiter.acquire("a", limits, usage, MIDNIGHT + t)
                assert seen(limiter.acquire("b", limits, usage, MIDNIGHT + t)) == seen(plain)
                if not plain.allowed:
                    for _ in range(retries):
                        again = limiter.acquire("b", limits, usage, MIDNIGHT + t)
                        assert seen(again) == seen(plain)

    check()


def test_a_full_bucket_admits_the_burst_at_once_then_denies_until_retry_after(
    limiter: Limiter,
) -> None:
    limits = (named("default", "600/minute"),)
    remaining = [
        limiter.acquire("k", limits, None, MIDNIGHT).states[0].remaining for _ in range(600)
    ]
    assert remaining == list(range(599, -1, -1))
    denied = limiter.acquire("k", limits, None, MIDNIGHT)
    assert (denied.allowed, denied.code, denied.denied_by) == (False, "RATE_LIMITED", ("default",))
    assert denied.retry_after == pytest.approx(0.1)
    assert not limiter.acquire("k", limits, None, MIDNIGHT + 0.099_999).allowed
    assert limiter.acquire("k", limits, None, MIDNIGHT + 0.1).allowed
    assert not limiter.acquire("k", limits, None, MIDNIGHT + 0.1).allowed


def test_burst_sets_how_many_come_at_once_and_the_rate_what_follows(limiter: Limiter) -> None:
    limits = (named("default", make_rate(120, 60.0, 10)),)  # 2 a second, 10 at once
    assert all(limiter.acquire("k", limits, None, MIDNIGHT).allowed for _ in range(10))
    denied = limiter.acquire("k", limits, None, MIDNIGHT)
    assert denied.retry_after == pytest.approx(0.5)
    steady = [MIDNIGHT + tick / 10 for tick in range(1, 51)]  # every 0.1 s for 5 s
    admitted = [now for now in steady if limiter.acquire("k", limits, None, now).allowed]
    assert admitted == [MIDNIGHT + tick / 10 for tick in range(5, 51, 5)]


def test_a_request_denied_by_one_limit_consumes_no_other(limiter: Limiter) -> None:
    limits = (named("second", "2/second"), named("day", "5/day"))
    outcomes = [limiter.acquire("k", limits, None, MIDNIGHT) for _ in range(3)]
    assert [o.allowed for o in outcomes] == [True, True, False]
    assert outcomes[2].denied_by == ("second",)
    assert [s.remaining for s in outcomes[2].states] == [0, 3]
    assert limiter.acquire("k", limits, None, MIDNIGHT + 1).allowed
    assert limiter.acquire("k", limits, None, MIDNIGHT + 1).allowed
    assert limiter.acquire("k", limits, None, MIDNIGHT + 2).allowed
    by_day = limiter.acquire("k", limits, None, MIDNIGHT + 2)
    assert (by_day.code, by_day.denied_by) == ("RATE_LIMITED", ("day",))
    assert [s.remaining for s in by_day.states] == [1, 0]
    # 5/day: the next unit is free one fifth of a day after the first request.
    assert by_day.retry_after == pytest.approx(86_400 / 5 - 2)


def test_several_limits_deny_until_the_very_microsecond_a_request_fits(
    limiter: Limiter,
) -> None:
    limits = (named("second", "2/second"), named("day", "1000/day"))
    assert limiter.acquire("k", limits, None, MIDNIGHT).allowed
    assert limiter.acquire("k", limits, None, MIDNIGHT).allowed
    early = limiter.acquire("k", limits, None, MIDNIGHT + 0.499_999)
    assert (early.allowed, early.denied_by) == (False, ("second",))
    assert early.retry_after == pytest.approx(0.000_001)
    assert limiter.acquire("k", limits, None, MIDNIGHT + 0.5).allowed


def test_the_longest_wait_among_denying_limits_is_the_retry_after(limiter: Limiter) -> None:
    limits = (named("fast", "1/second"), named("slow", "1/minute"))
    limiter.acquire("k", limits, None, MIDNIGHT)
    denied = limiter.acquire("k", limits, None, MIDNIGHT)
    assert denied.denied_by == ("fast", "slow")
    assert denied.retry_after == pytest.approx(60)


def test_credits_are_spent_only_by_admitted_requests(limiter: Limiter) -> None:
    limits = (named("second", "2/second"),)
    usage = Usage(3, "daily")
    outcomes = [limiter.acquire("k", limits, usage, MIDNIGHT) for _ in range(3)]
    assert [o.code for o in outcomes] == [None, None, "RATE_LIMITED"]
    assert outcomes[2].usage is not None
    assert outcomes[2].usage.remaining == 1
    assert limiter.acquire("k", limits, usage, MIDNIGHT + 1).allowed
    spent = limiter.acquire("k", limits, usage, MIDNIGHT + 1)
    assert (spent.allowed, spent.code, spent.denied_by) == (False, "USAGE_EXCEEDED", ("usage",))
    assert spent.states[0].remaining == 1  # the rate limit was not charged either
    assert spent.retry_after == pytest.approx(86_400 - 1)


def test_spent_credits_win_over_a_rate_limit(limiter: Limiter) -> None:
    limits = (named("minute", "1/minute"),)
    usage = Usage(1, "monthly")
    assert limiter.acquire("k", limits, usage, MIDNIGHT).allowed
    assert limiter.acquire("k", limits, usage, MIDNIGHT).code == "USAGE_EXCEEDED"


def test_daily_credits_refill_at_the_next_utc_midnight(limiter: Limiter) -> None:
    usage = Usage(2, "daily")
    evening = at("2026-11-27T23:59:59")
    assert limiter.acquire("k", (), usage, evening).allowed
    assert limiter.acquire("k", (), usage, evening).allowed
    denied = limiter.acquire("k", (), usage, evening)
    assert denied.code == "USAGE_EXCEEDED"
    assert denied.retry_after == pytest.approx(1.0)
    assert denied.usage is not None
    assert denied.usage.reset == pytest.approx(1.0)
    assert not limiter.acquire("k", (), usage, at("2026-11-27T23:59:59.999999")).allowed
    assert limiter.acquire("k", (), usage, at("2026-11-28T00:00:00")).allowed


def test_monthly_credits_refill_on_the_first_of_the_next_utc_month(limiter: Limiter) -> None:
    usage = Usage(1, "monthly")
    assert limiter.acquire("k", (), usage, at("2026-12-01T00:00:00")).allowed
    denied = limiter.acquire("k", (), usage, at("2026-12-31T23:59:00"))
    assert denied.code == "USAGE_EXCEEDED"
    assert denied.retry_after == pytest.approx(60.0)
    outcome = limiter.acquire("k", (), usage, at("2027-01-01T00:00:00"))
    assert outcome.allowed
    assert outcome.usage is not None
    assert outcome.usage.window == 31 * 86_400


def test_lifetime_credits_never_refill(limiter: Limiter) -> None:
    usage = Usage(1, "never")
    assert limiter.acquire("k", (), usage, MIDNIGHT).allowed
    later = limiter.acquire("k", (), usage, MIDNIGHT + 400 * 86_400)
    assert (later.code, later.retry_after) == ("USAGE_EXCEEDED", None)
    assert later.usage is not None
    assert (later.usage.remaining, later.usage.reset) == (0, None)


def test_peek_shows_headroom_and_consumes_nothing(limiter: Limiter) -> None:
    limits = (named("default", make_rate(10, 1.0, 3)),)
    usage = Usage(5, "daily")
    for _ in range(10):
        look = limiter.peek("k", limits, usage, MIDNIGHT)
        assert look.allowed
        assert look.states[0].remaining == 3
        assert look.usage is not None
        assert look.usage.remaining == 5
    assert [limiter.acquire("k", limits, usage, MIDNIGHT).allowed for _ in range(4)] == [
        True,
        True,
        True,
        False,
    ]
    look = limiter.peek("k", limits, usage, MIDNIGHT)
    assert (look.allowed, look.code, look.retry_after) == (False, "RATE_LIMITED", 0.1)


def test_peek_at_rate_limits_alone_consumes_nothing(limiter: Limiter) -> None:
    limits = (named("default", make_rate(10, 1.0, 3)),)
    for _ in range(5):
        look = limiter.peek("k", limits, None, MIDNIGHT)
        assert (look.allowed, look.states[0].remaining, look.usage) == (True, 3, None)
    assert [limiter.acquire("k", limits, None, MIDNIGHT).allowed for _ in range(4)] == [
        True,
        True,
        True,
        False,
    ]


def test_peek_at_credits_alone_shows_what_is_left_of_them(limiter: Limiter) -> None:
    usage = Usage(2, "daily")
    look = limiter.peek("k", (), usage, MIDNIGHT)
    assert (look.allowed, look.usage) == (True, LimitState("usage", 2, 86_400, 2, 86_400))
    limiter.acquire("k", (), usage, MIDNIGHT)
    look = limiter.peek("k", (), usage, MIDNIGHT + 3_600)
    assert (look.allowed, look.usage) == (True, LimitState("usage", 2, 86_400, 1, 82_800))
    limiter.acquire("k", (), usage, MIDNIGHT)
    spent = limiter.peek("k", (), usage, MIDNIGHT + 3_600)
    assert (spent.allowed, spent.code, spent.retry_after) == (False, "USAGE_EXCEEDED", 82_800)
    assert spent.usage == LimitState("usage", 2, 86_400, 0, 82_800)


@pytest.mark.parametrize("now", [0.0, MIDNIGHT], ids=["the-epoch", "midnight"])
def test_a_limit_new_to_a_key_starts_with_its_whole_burst(limiter: Limiter, now: float) -> None:
    first, added = named("first", make_rate(10, 1.0, 3)), named("added", make_rate(1, 1.0, 1))
    assert limiter.peek("k", (first,), Usage(5, "never"), now).states[0].remaining == 3
    assert limiter.acquire("fresh", (added,), None, now).allowed
    assert limiter.acquire("k", (first,), None, now).allowed
    look = limiter.peek("k", (first, added), Usage(5, "never"), now)
    assert [state.remaining for state in look.states] == [2, 1]
    assert limiter.acquire("one", (first,), None, now).allowed
    assert limiter.acquire("one", (added,), None, now).allowed
    assert limiter.acquire("two", (first,), None, now).allowed
    both = limiter.acquire("two", (first, added), None, now)
    assert (both.allowed, [state.remaining for state in both.states]) == (True, [1, 0])
    assert limiter.acquire("k", (first, added), Usage(5, "never"), now).allowed


def test_credits_of_a_day_the_clock_goes_back_to_are_as_that_day_left_them(
    limiter: Limiter,
) -> None:
    # Requests stamped by clocks a little apart arrive out of order around midnight.
    usage = Usage(2, "daily")
    today, yesterday = MIDNIGHT + 1, MIDNIGHT - 1
    assert limiter.acquire("k", (), usage, today).allowed
    assert limiter.acquire("k", (), usage, yesterday).allowed
    assert limiter.acquire("k", (), usage, today).allowed
    assert limiter.acquire("k", (), usage, yesterday).allowed
    late = limiter.acquire("k", (), usage, yesterday)
    assert (late.allowed, late.code) == (False, "USAGE_EXCEEDED")


def test_each_key_has_its_own_limits(limiter: Limiter) -> None:
    limits = (named("default", "1/minute"),)
    assert limiter.acquire("first", limits, None, MIDNIGHT).allowed
    assert not limiter.acquire("first", limits, None, MIDNIGHT).allowed
    assert limiter.acquire("second", limits, None, MIDNIGHT).allowed


def test_reset_forgets_one_key_and_only_that_one(limiter: Limiter) -> None:
    limits = (named("default", "1/minute"),)
    usage = Usage(1, "never")
    for key in ("gone", "kept"):
        assert limiter.acquire(key, limits, usage, MIDNIGHT).allowed
    limiter.reset("gone")
    assert limiter.acquire("gone", limits, usage, MIDNIGHT).allowed
    assert not limiter.acquire("kept", limits, usage, MIDNIGHT + 120).allowed


def test_a_key_without_limits_or_credits_is_always_admitted(limiter: Limiter) -> None:
    outcome = limiter.acquire("k", (), None, MIDNIGHT)
    assert (outcome.allowed, outcome.states, outcome.usage) == (True, (), None)
