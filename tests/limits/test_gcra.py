"""The algorithm alone: exact integer arithmetic over a TAT, against a simulated clock."""

from __future__ import annotations

from fractions import Fraction

from hypothesis import given
from hypothesis import strategies as st

from policyengine.limits.gcra import MICROS, Gcra, admit, gcra, gcra_params
from policyengine.units import Rate, make_rate, parse_rate

rates = st.builds(
    make_rate,
    limit=st.integers(1, 50),
    period=st.sampled_from([1.0, 2.0, 60.0, 3600.0]),
    burst=st.integers(1, 50),
)


def test_emission_interval_is_the_period_divided_by_the_limit() -> None:
    assert gcra_params(parse_rate("600/minute")) == Gcra(interval=100_000, capacity=60 * MICROS)
    assert gcra_params(make_rate(1200, 60.0, 100)) == Gcra(50_000, 100 * 50_000)


def test_interval_is_rounded_up_so_rounding_only_ever_makes_a_limit_stricter() -> None:
    # 60 s / 7 = 8 571 428.57… µs
    assert gcra_params(parse_rate("7/minute")).interval == 8_571_429
    assert gcra_params(make_rate(10**9, 1.0, 1)).interval == 1


def test_a_full_bucket_admits_burst_requests_at_one_instant_and_then_denies() -> None:
    params = gcra_params(make_rate(10, 1.0, 3))
    now = 5 * MICROS
    tat = 0
    seen = []
    for _ in range(3):
        step = gcra(tat, now, params, True)
        assert step.allowed
        tat = step.tat
        seen.append((step.remaining, step.reset, step.retry_after))
    assert seen == [(2, 100_000, 0), (1, 200_000, 0), (0, 300_000, 100_000)]
    denied = gcra(tat, now, params, True)
    assert denied.allowed is False
    assert denied.tat == tat
    assert denied.retry_after == 100_000
    assert admit(tat, now + 99_999, params) is None
    assert admit(tat, now + 100_000, params) == tat + 100_000


def test_looking_changes_nothing_and_says_whether_a_request_would_pass() -> None:
    params = gcra_params(make_rate(1, 1.0, 1))
    look = gcra(0, MICROS, params, False)
    assert look == (True, 0, 1, 0, 0)
    spent = gcra(2 * MICROS, MICROS, params, False)
    assert spent.allowed
    assert spent.tat == 2 * MICROS
    assert (spent.remaining, spent.retry_after) == (0, MICROS)


@given(rates, st.lists(st.integers(0, 200 * MICROS), min_size=1, max_size=80))
def test_at_most_burst_plus_rate_times_t_over_any_interval(rate: Rate, times: list[int]) -> None:
    """Exact: the simulated clock ticks in whole microseconds, like the algorithm."""
    params = gcra_params(rate)
    tat, admitted = 0, []
    for now in times:  # in any order: clocks of several machines disagree
        new = admit(tat, now, params)
        if new is not None:
            tat = new
            admitted.append(now)
    assert admitted[0] == times[0]  # the bucket starts full
    per_micro = Fraction(rate.limit, 1) / Fraction(rate.period * MICROS)
    admitted.sort()
    for i, first in enumerate(admitted):
        for j in range(i, len(admitted)):
            assert j - i + 1 <= rate.burst + per_micro * (admitted[j] - first)


def test_an_admission_that_fills_the_bucket_exactly_is_admitted_and_one_microsecond_more_is_not() -> (
    None
):
    """The edge the property above meets only by chance: TAT pushed to exactly
    ``now + capacity``."""
    params = gcra_params(make_rate(10, 1.0, 3))  # T = 100 000 µs, capacity 300 000 µs
    now = 7 * MICROS
    last_place = now + params.capacity - params.interval
    assert admit(last_place, now, params) == now + params.capacity
    assert admit(last_place + 1, now, params) is None
    full = gcra(last_place, now, params, True)
    assert (full.allowed, full.remaining, full.reset, full.retry_after) == (
        True,
        0,
        params.capacity,
        params.interval,
    )
