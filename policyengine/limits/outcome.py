"""What a limiter answers, and the one all-or-nothing rule every backend applies.

A backend reads the stored state of a key (one TAT per named limit and the credits used
in the current period), hands it to :func:`evaluate`, and writes back the new TATs only
if the request was admitted. The Redis backend does the same read-decide-write inside one
Lua script and then calls :func:`evaluate` on the state it read, so both backends report
the very same outcome for the same state.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from policyengine.limits.gcra import MICROS, admit, gcra, gcra_params
from policyengine.limits.usage import Period
from policyengine.policy.model import RateLimit
from policyengine.record import Usage

LimitCode = Literal["RATE_LIMITED", "USAGE_EXCEEDED"]

#: The name usage credits go by in an outcome and in the RateLimit headers.
USAGE = "usage"


@dataclass(frozen=True, slots=True)
class LimitState:
    """One quota policy as the RateLimit headers show it."""

    name: str
    #: ``q``: requests per window (a rate's limit, or the credits of a period).
    quota: int
    #: ``w``: the window in seconds; ``None`` for lifetime credits.
    window: float | None
    #: ``r``: how many more requests would be admitted right now.
    remaining: int
    #: ``t``: seconds until the bucket is full again, or, when nothing remains, until the
    #: next request would be admitted; for credits, until they refill (``None``: never).
    reset: float | None


class LimitOutcome:
    """The answer to one request. Read-only by convention.

    ``allowed``, ``code``, ``retry_after`` and ``denied_by`` are plain attributes;
    :attr:`states` and :attr:`usage`, for headers and displays, are worked out from the
    state when first read, so a caller that does not show them does not pay for them.
    """

    __slots__ = (
        "_period",
        "_rule",
        "_states",
        "_used",
        "allowed",
        "code",
        "denied_by",
        "limits",
        "now",
        "retry_after",
        "tats",
    )

    def __init__(
        self,
        allowed: bool,
        code: LimitCode | None,
        limits: Sequence[RateLimit],
        tats: Sequence[int],
        now: int,
        usage: Usage | None = None,
        period: Period | None = None,
        used: int = 0,
        retry_after: float | None = None,
        denied_by: tuple[str, ...] = (),
    ) -> None:
        self.allowed = allowed
        #: ``None`` when allowed; usage is checked before rate, so it wins when both deny.
        self.code = code
        #: Seconds until the request would be admitted (``Retry-After`` on a denial);
        #: ``None`` when allowed, or when lifetime credits are spent and never return.
        self.retry_after = retry_after
        #: The names of the limits (or ``usage``) that denied.
        self.denied_by = denied_by
        #: The limits, the TAT of each after this request (µs) and the request's time
        #: (µs): the state the headers and :attr:`states` are worked out from.
        self.limits = limits
        self.tats = tats
        self.now = now
        self._rule = usage
        self._period = period
        self._used = used
        self._states: tuple[LimitState, ...] | None = None

    @property
    def states(self) -> tuple[LimitState, ...]:
        """Every named limit after this request, in the order they were given."""
        if self._states is None:
            now = self.now
            self._states = tuple(
                _state(limit, tat, now) for limit, tat in zip(self.limits, self.tats, strict=True)
            )
        return self._states

    @property
    def usage(self) -> LimitState | None:
        """The usage credits after this request, or ``None`` for a key without a cap."""
        usage, period = self._rule, self._period
        if usage is None or period is None:
            return None
        left = max(usage.credits - self._used, 0)
        if period.end is None:
            return LimitState(USAGE, usage.credits, None, left, None)
        window = (period.end - period.start) / MICROS
        return LimitState(USAGE, usage.credits, window, left, (period.end - self.now) / MICROS)

    def headroom(self) -> tuple[tuple[str, int, int], ...]:
        """``(name, remaining, quota)`` of every limit, credits last: what :attr:`states`
        and :attr:`usage` say of each, without the timings, for a fraction of the cost."""
        now = self.now
        found = []
        for limit, tat in zip(self.limits, self.tats, strict=True):
            interval, capacity = gcra_params(limit.rate)
            ahead = tat - now if tat > now else 0
            left = (capacity - ahead) // interval if ahead <= capacity else 0
            found.append((limit.name, left, limit.rate.limit))
        usage = self._rule
        if usage is not None and self._period is not None:
            found.append((USAGE, max(usage.credits - self._used, 0), usage.credits))
        return tuple(found)

    def __repr__(self) -> str:
        return (
            f"LimitOutcome(allowed={self.allowed}, code={self.code!r}, "
            f"retry_after={self.retry_after!r}, denied_by={self.denied_by!r}, "
            f"states={self.states!r}, usage={self.usage!r})"
        )


NO_LIMITS = LimitOutcome(True, None, (), (), 0)


def evaluate(
    limits: Sequence[RateLimit],
    tats: Sequence[int],
    usage: Usage | None,
    period: Period | None,
    used: int,
    now: int,
    consume: bool,
) -> tuple[LimitOutcome, list[int] | None]:
    """The outcome of a request at ``now`` (µs) against the stored state, all or nothing.

    ``tats[i]`` is the stored TAT of ``limits[i]`` (0 when absent) and ``used`` the
    credits spent in ``period``. With ``consume`` the request is admitted only if every
    limit and the credits allow it, and the TATs to store are returned; otherwise, or
    when it is denied, the second value is ``None`` and nothing may be written.
    """
    exhausted = usage is not None and used >= usage.credits
    if consume and not exhausted:
        advanced: list[int] = []
        # Not strict=True on the hot path: it costs 0.1 µs, and the caller builds ``tats``
        # from ``limits``.
        for limit, tat in zip(limits, tats, strict=False):
            new = admit(tat, now, gcra_params(limit.rate))
            if new is None:
                break
            advanced.append(new)
        else:
            outcome = LimitOutcome(True, None, limits, advanced, now, usage, period, used + 1)
            return outcome, advanced
    # Denied, or only looking: the stored state stands, and the outcome describes it.
    if exhausted:
        end = period.end if period is not None else None
        wait = None if end is None else (end - now) / MICROS
        outcome = LimitOutcome(
            False, "USAGE_EXCEEDED", limits, tats, now, usage, period, used, wait, (USAGE,)
        )
        return outcome, None
    denied = []
    longest = 0
    for limit, tat in zip(limits, tats, strict=True):
        wait_us = gcra(tat, now, gcra_params(limit.rate), False).retry_after
        if wait_us:
            denied.append(limit.name)
            longest = max(longest, wait_us)
    if denied:
        wait = longest / MICROS
        outcome = LimitOutcome(
            False, "RATE_LIMITED", limits, tats, now, usage, period, used, wait, tuple(denied)
        )
        return outcome, None
    return LimitOutcome(True, None, limits, tats, now, usage, period, used), None


def _state(limit: RateLimit, tat: int, now: int) -> LimitState:
    step = gcra(tat, now, gcra_params(limit.rate), False)
    wait = step.reset if step.remaining else step.retry_after
    rate = limit.rate
    return LimitState(limit.name, rate.limit, rate.period, step.remaining, wait / MICROS)
