"""Hypothesis strategies and checks shared by the limiter properties."""

from __future__ import annotations

from fractions import Fraction

from hypothesis import strategies as st

from policyengine.policy.model import RateLimit
from policyengine.record import Usage
from policyengine.units import Rate, make_rate

rates = st.builds(
    make_rate,
    limit=st.integers(1, 20),
    period=st.sampled_from([1.0, 2.0, 60.0]),
    burst=st.integers(1, 20),
)


@st.composite
def request_times(draw: st.DrawFn, period: float, max_size: int = 40) -> list[float]:
    """Offsets in seconds, in any order, often several at one instant."""
    span = 3 * period
    instant = st.one_of(
        st.floats(0, span, allow_nan=False),
        st.sampled_from([0.0, period / 3, period, span]),
    )
    return draw(st.lists(instant, min_size=1, max_size=max_size))


@st.composite
def limit_sets(draw: st.DrawFn) -> tuple[tuple[RateLimit, ...], Usage | None]:
    """One to three named limits, and usage credits or none."""
    chosen = draw(st.lists(rates, min_size=1, max_size=3))
    limits = tuple(RateLimit(f"limit-{i}", rate) for i, rate in enumerate(chosen))
    usage = draw(
        st.none()
        | st.builds(Usage, st.integers(1, 15), st.sampled_from(["daily", "monthly", "never"]))
    )
    return limits, usage


def assert_within_bound(admitted: list[float], rate: Rate) -> None:
    """Over any interval of length t, at most ``burst + rate × t`` admitted.

    The limiter counts whole microseconds, so a float instant may be read up to about
    0.7 µs off; two microseconds of slack on t covers both ends of the interval.
    """
    per_second = Fraction(rate.limit) / Fraction(rate.period)
    slack = Fraction(2, 1_000_000)
    times = sorted(Fraction(t) for t in admitted)
    for i, first in enumerate(times):
        for j in range(i, len(times)):
            assert j - i + 1 <= rate.burst + per_second * (times[j] - first + slack), (
                f"{j - i + 1} admitted within {float(times[j] - first)} s under {rate}"
            )
