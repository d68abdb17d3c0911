"""Durations (``30d``, ``1h30m``) and rates (``600/minute``), as policy files write them."""

from __future__ import annotations

import re
from dataclasses import dataclass

from policyengine.errors import InvalidValue

UNIT_SECONDS = {
    "ms": 0.001,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
    "d": 86400.0,
    "w": 604800.0,
}

PERIOD_SECONDS = {
    "second": 1.0,
    "minute": 60.0,
    "hour": 3600.0,
    "day": 86400.0,
}

_DURATION = re.compile(r"(?:\d+(?:ms|s|m|h|d|w))+")
_DURATION_PART = re.compile(r"(\d+)(ms|s|m|h|d|w)")
_RATE = re.compile(r"(\d+)\s*/\s*(\d*)\s*(second|minute|hour|day|s|m|h|d)")
_PERIOD_ALIASES = {"s": "second", "m": "minute", "h": "hour", "d": "day"}

MAX_DURATION_SECONDS = 100 * 366 * 86400.0
#: The most requests a rate may count in one period, and the largest burst.
MAX_COUNT = 1_000_000_000
#: Longer texts are refused before they are parsed: no duration or rate is this long.
MAX_TEXT = 64


def shown(text: object) -> str:
    """``repr(text)``, cut short: an error message repeats what it was given, not a megabyte."""
    quoted = repr(text)
    return quoted if len(quoted) <= MAX_TEXT else f"{quoted[: MAX_TEXT - 4]}…{quoted[-1]}"


def parse_duration(text: str) -> float:
    """``"1h30m"`` → 5400.0 seconds. Units: ms, s, m, h, d, w."""
    if not isinstance(text, str) or len(text) > MAX_TEXT or not _DURATION.fullmatch(text):
        raise InvalidValue(
            f"invalid duration {shown(text)}: write a number and a unit, such as 30d, 15m or "
            "1h30m (units: ms, s, m, h, d, w)"
        )
    seconds = sum(int(n) * UNIT_SECONDS[u] for n, u in _DURATION_PART.findall(text))
    if seconds > MAX_DURATION_SECONDS:
        raise InvalidValue(f"duration {shown(text)} is longer than 100 years")
    return seconds


def format_duration(seconds: float) -> str:
    """The shortest exact spelling of a duration, for messages: 5400 → ``1h30m``."""
    if seconds == 0:
        return "0s"
    millis = round(seconds * 1000)
    parts = []
    for unit in ("w", "d", "h", "m", "s", "ms"):
        size = round(UNIT_SECONDS[unit] * 1000)
        count, millis = divmod(millis, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)


@dataclass(frozen=True, slots=True)
class Rate:
    """``limit`` requests per ``period`` seconds, with up to ``burst`` at once."""

    limit: int
    period: float
    burst: int

    def __str__(self) -> str:
        per = next(
            (name for name, secs in PERIOD_SECONDS.items() if secs == self.period),
            format_duration(self.period),
        )
        text = f"{self.limit}/{per}"
        return text if self.burst == self.limit else f"{text} (burst {self.burst})"


def parse_rate(text: str) -> Rate:
    """``"600/minute"``, ``"10/s"``, ``"1000/2h"`` → a :class:`Rate` whose burst is the limit."""
    if isinstance(text, str) and len(text) <= MAX_TEXT:
        match = _RATE.fullmatch(text.strip())
        if match:
            count, multiple, unit = match.groups()
            limit = int(count)
            period = PERIOD_SECONDS[_PERIOD_ALIASES.get(unit, unit)] * int(multiple or 1)
            return make_rate(limit, period, limit)
    raise InvalidValue(
        f"invalid rate {shown(text)}: write a count per period, such as 600/minute or "
        "10/second (periods: second, minute, hour, day)"
    )


def parse_period(text: str) -> float:
    """A rate's period: ``minute`` (or ``m``), ``second``, ``hour``, ``day``, or a duration."""
    if not isinstance(text, str):
        raise InvalidValue(f"invalid period {shown(text)}: write minute, hour, or a duration")
    name = _PERIOD_ALIASES.get(text, text)
    if name in PERIOD_SECONDS:
        return PERIOD_SECONDS[name]
    return parse_duration(text)


def make_rate(limit: int, period: float, burst: int) -> Rate:
    if not 1 <= limit <= MAX_COUNT:
        raise InvalidValue(
            f"a rate limit admits from 1 to {MAX_COUNT:,} requests per period, not {limit}"
        )
    if not 0 < period <= MAX_DURATION_SECONDS:
        raise InvalidValue("a rate limit's period must be longer than zero and at most 100 years")
    if not 1 <= burst <= MAX_COUNT:
        raise InvalidValue(f"burst must be from 1 to {MAX_COUNT:,}, not {burst}")
    return Rate(limit=limit, period=period, burst=burst)
