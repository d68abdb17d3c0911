"""Credit periods: UTC days and months, named as the counters are."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from policyengine.errors import InvalidValue
from policyengine.limits import usage
from policyengine.limits.gcra import MICROS
from policyengine.limits.usage import LIFETIME, current_period

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def micros(text: str) -> int:
    # Exact whole microseconds, also for instants a float second cannot hold to the µs.
    return (datetime.fromisoformat(text).replace(tzinfo=UTC) - EPOCH) // timedelta(microseconds=1)


@pytest.fixture(autouse=True)
def new_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test finds the periods as a process that has computed none yet does."""
    monkeypatch.setattr(usage, "_last", {})


@pytest.mark.parametrize(
    ("refill", "now", "name", "start", "end"),
    [
        ("daily", "2026-11-27T13:45:10", "2026-11-27", "2026-11-27", "2026-11-28"),
        ("daily", "2026-12-31T23:59:59.999999", "2026-12-31", "2026-12-31", "2027-01-01"),
        ("monthly", "2026-11-27T13:45:10", "2026-11", "2026-11-01", "2026-12-01"),
        ("monthly", "2026-12-31T23:59:59", "2026-12", "2026-12-01", "2027-01-01"),
        ("monthly", "2028-02-29T12:00:00", "2028-02", "2028-02-01", "2028-03-01"),
        # The month that ends at the epoch, whose instants are negative.
        ("monthly", "1969-12-15T12:00:00", "1969-12", "1969-12-01", "1970-01-01"),
        ("daily", "1969-12-31T23:59:59.999999", "1969-12-31", "1969-12-31", "1970-01-01"),
        # So far on that a float second is coarser than a microsecond.
        ("monthly", "2999-11-30T23:59:59.999999", "2999-11", "2999-11-01", "2999-12-01"),
    ],
)
def test_the_period_an_instant_falls_in(
    refill: str, now: str, name: str, start: str, end: str
) -> None:
    period = current_period(refill, micros(now))  # type: ignore[arg-type]
    assert period == (name, micros(start), micros(end))


def test_the_next_period_starts_at_its_first_microsecond() -> None:
    assert current_period("daily", micros("2026-11-28T00:00:00")).id == "2026-11-28"
    assert current_period("daily", micros("2026-11-27T23:59:59.999999")).id == "2026-11-27"
    assert current_period("monthly", micros("2027-01-01T00:00:00")).id == "2027-01"


def test_an_earlier_instant_is_not_answered_from_the_last_period() -> None:
    assert current_period("daily", micros("2026-11-27T10:00:00")).id == "2026-11-27"
    assert current_period("daily", micros("2026-11-26T10:00:00")).id == "2026-11-26"


def test_lifetime_credits_have_one_period_that_never_ends() -> None:
    assert current_period("never", micros("2026-11-27T10:00:00")) is LIFETIME
    assert current_period("never", micros("2999-01-01T00:00:00")) is LIFETIME
    assert LIFETIME.end is None


def test_an_unknown_refill_is_refused_and_named() -> None:
    with pytest.raises(InvalidValue) as raised:
        current_period("weekly", micros("2026-11-27T10:00:00"))  # type: ignore[arg-type]
    assert str(raised.value) == "unknown refill 'weekly': expected daily, monthly or never"


@pytest.mark.parametrize(
    ("zone", "now", "day", "month"),
    [
        # Already the first of December at UTC+14.
        ("Pacific/Kiritimati", "2026-11-30T23:30:00", "2026-11-30", "2026-11"),
        # Still the last of September at UTC-10.
        ("America/Adak", "2026-10-01T03:00:00", "2026-10-01", "2026-10"),
    ],
)
def test_periods_are_utc_whatever_the_servers_time_zone(
    zone: str, now: str, day: str, month: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TZ", zone)
    time.tzset()
    try:
        daily = current_period("daily", micros(now))
        monthly = current_period("monthly", micros(now))
    finally:
        monkeypatch.undo()
        time.tzset()
    assert daily.id == day
    assert (daily.start, daily.end) == (micros(day), micros(day) + 86_400 * MICROS)
    assert monthly.id == month
    assert monthly.start == micros(f"{month}-01")
