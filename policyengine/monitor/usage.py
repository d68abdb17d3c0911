"""Usage per key: requests, allowed, denied by code, the least rate-limit headroom and the
credits spent, counted per minute and rolled up by hour and day as records are written.

The writer folds each batch of decision rows into buckets here (:class:`UsageTally`), and
the store adds them to what it holds, so that a bucket's counts grow across batches and
processes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Literal

from policyengine.keys.codec import from_micros
from policyengine.limits.outcome import USAGE
from policyengine.monitor.rows import AT, CODE, KEY_ID, LIMITS, OK, DecisionRow

Step = Literal["minute", "hour", "day"]
STEPS: dict[Step, int] = {
    "minute": 60_000_000,
    "hour": 3_600_000_000,
    "day": 86_400_000_000,
}
#: How far back :meth:`Monitor.usage` looks when not told.
DEFAULT_SPANS: dict[Step, timedelta] = {
    "minute": timedelta(hours=1),
    "hour": timedelta(days=1),
    "day": timedelta(days=30),
}


@dataclass(frozen=True, slots=True)
class UsagePoint:
    """One key's use in one minute, hour or day (UTC), starting at ``start``."""

    start: datetime
    step: Step
    requests: int
    allowed: int
    #: Denied requests by decision code.
    denied: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))
    #: The least fraction of a rate limit left after any request (``None``: no limits).
    headroom: float | None = None
    #: Usage credits spent: one per allowed request of a key with credits.
    credits: int = 0

    @property
    def denied_total(self) -> int:
        return self.requests - self.allowed

    def as_dict(self) -> dict[str, object]:
        return {
            "start": self.start.isoformat(),
            "step": self.step,
            "requests": self.requests,
            "allowed": self.allowed,
            "denied": dict(self.denied),
            "headroom": self.headroom,
            "credits": self.credits,
        }


@dataclass(slots=True)
class Bucket:
    requests: int = 0
    allowed: int = 0
    credits: int = 0
    headroom: float | None = None
    denied: dict[str, int] = field(default_factory=dict)


#: ``(key id, step, start in µs)``.
BucketKey = tuple[str, Step, int]


class UsageTally:
    """The buckets one batch adds to, every step at once."""

    def __init__(self) -> None:
        self.buckets: dict[BucketKey, Bucket] = {}

    def add(self, rows: Iterable[DecisionRow]) -> None:
        # Decisions are counted into minutes, and only the minutes are rolled up: a batch
        # holds many decisions and few minutes.
        minutes: dict[tuple[str, int], Bucket] = {}
        minute = STEPS["minute"]
        for row in rows:
            key_id = row[KEY_ID]
            if key_id is None:
                continue
            key = (key_id, row[AT] // minute * minute)
            bucket = minutes.get(key)
            if bucket is None:
                bucket = minutes[key] = Bucket()
            bucket.requests += 1
            code = row[CODE]
            limits = row[LIMITS]
            if code == OK:
                bucket.allowed += 1
                if limits and limits[-1][0] == USAGE:
                    bucket.credits += 1
            else:
                bucket.denied[code] = bucket.denied.get(code, 0) + 1
            for name, remaining, quota in limits:
                if name != USAGE and quota:
                    fraction = remaining / quota
                    if bucket.headroom is None or fraction < bucket.headroom:
                        bucket.headroom = fraction
        buckets = self.buckets
        for (key_id, start), bucket in minutes.items():
            for step, size in STEPS.items():
                merge(buckets.setdefault((key_id, step, start // size * size), Bucket()), bucket)


def merge(into: Bucket, more: Bucket) -> None:
    """Add ``more`` to ``into``, as the stores do when a bucket is written again."""
    into.requests += more.requests
    into.allowed += more.allowed
    into.credits += more.credits
    if more.headroom is not None and (into.headroom is None or more.headroom < into.headroom):
        into.headroom = more.headroom
    for code, count in more.denied.items():
        into.denied[code] = into.denied.get(code, 0) + count


def point(step: Step, start: int, bucket: Bucket) -> UsagePoint:
    return UsagePoint(
        from_micros(start),
        step,
        bucket.requests,
        bucket.allowed,
        MappingProxyType(dict(sorted(bucket.denied.items()))),
        bucket.headroom,
        bucket.credits,
    )
