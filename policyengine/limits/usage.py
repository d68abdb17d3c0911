"""Usage-credit periods: the UTC day or month a credit counter belongs to.

A key with ``Usage(credits=1000, refill="daily")`` has one counter per UTC day, named by
the day (``2026-11-27``); a new day starts a new counter at zero, which is the refill.
``monthly`` counters are named by the UTC month (``2026-11``) and ``never`` has a single
lifetime counter. Periods are computed from the caller's clock, like the rate limits.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import NamedTuple

from policyengine.errors import InvalidValue
from policyengine.limits.gcra import MICROS
from policyengine.record import Refill

DAY = 86_400 * MICROS


class Period(NamedTuple):
    """A credit period; ``start`` and ``end`` in microseconds since the epoch."""

    #: Names the counter: ``2026-11-27``, ``2026-11`` or ``lifetime``.
    id: str
    start: int
    #: When the credits refill; ``None`` for a lifetime allowance, which never does.
    end: int | None


LIFETIME = Period("lifetime", 0, None)

# The period last computed for each refill kind: almost every call falls in it, so the
# hot path is two comparisons and no date arithmetic.
_last: dict[str, Period] = {}


def current_period(refill: Refill, now: int) -> Period:
    """The period that ``now`` (microseconds since the epoch) falls in."""
    last = _last.get(refill)
    if last is not None and last.start <= now and (last.end is None or now < last.end):
        return last
    period = _compute(refill, now)
    _last[refill] = period
    return period


def _compute(refill: Refill, now: int) -> Period:
    if refill == "never":
        return LIFETIME
    if refill == "daily":
        start = now - now % DAY
        day = datetime.fromtimestamp(start // MICROS, UTC)
        return Period(day.strftime("%Y-%m-%d"), start, start + DAY)
    if refill == "monthly":
        moment = datetime.fromtimestamp(now // MICROS, UTC)
        first = moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        year, month = divmod(first.month, 12)
        following = first.replace(year=first.year + year, month=month + 1)
        return Period(
            first.strftime("%Y-%m"),
            int(first.timestamp()) * MICROS,
            int(following.timestamp()) * MICROS,
        )
    raise InvalidValue(f"unknown refill {refill!r}: expected daily, monthly or never")
