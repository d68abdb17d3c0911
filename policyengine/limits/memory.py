"""``memory://``: limits kept in this process, for one process on one machine.

The state of a key is a TAT per named limit and a credit counter per period. A TAT in
the past means a full bucket, so a key whose TATs have all passed and whose credit
periods have all ended holds nothing worth keeping. Such keys are swept out whenever the
table has doubled since the last sweep, which bounds memory by about twice the keys
active at once at an amortized constant cost per request, and at least once a minute,
which gives the memory back after a spike.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

from policyengine.errors import ConfigError
from policyengine.limits.base import SteppingLimiter, register_scheme
from policyengine.limits.gcra import MICROS, PLANS, gcra_plan
from policyengine.limits.outcome import NO_LIMITS, LimitOutcome, evaluate
from policyengine.limits.usage import Period, current_period
from policyengine.policy.model import RateLimit
from policyengine.record import Usage
from policyengine.redaction import redact

# The end of a period that never ends, as a number that sorts after every instant.
_FOREVER = 1 << 62
_FIRST_SWEEP = 1024
_SWEEP_EVERY = 60 * MICROS
_NO_TATS: dict[str, int] = {}


class _KeyState:
    __slots__ = ("credits", "expires", "tats")

    def __init__(self) -> None:
        self.tats: dict[str, int] = {}
        #: period id → (credits used, end of the period).
        self.credits: dict[str, tuple[int, int]] = {}
        #: When everything here will have become equal to nothing stored.
        self.expires = 0


@register_scheme("memory")
class MemoryLimiter(SteppingLimiter):
    """Thread-safe; one lock guards each read-decide-write, so checks are atomic."""

    #: Its state is in this process: a check never waits for anything but this lock.
    in_process = True

    def __init__(self, url: str = "memory://") -> None:
        if url != "memory://":
            raise ConfigError(
                f"invalid limiter URL {redact(url)!r}: the in-memory limiter is memory://"
            )
        self._lock = threading.Lock()
        self._keys: dict[str, _KeyState] = {}
        self._sweep_at = _FIRST_SWEEP
        self._next_sweep = 0

    def reset(self, key_id: str) -> None:
        with self._lock:
            self._keys.pop(key_id, None)

    def close(self) -> None:
        """Nothing to release: the state is garbage once the limiter is."""

    def __len__(self) -> int:
        """How many keys have state held for them."""
        return len(self._keys)

    def acquire(
        self, key_id: str, limits: Sequence[RateLimit], usage: Usage | None, now: float
    ) -> LimitOutcome:
        if usage is not None:
            return self._evaluated(key_id, limits, usage, round(now * MICROS), True)
        if not limits:
            return NO_LIMITS
        # The common case, rate limits without credits, in one pass: what evaluate()
        # answers, without its generality. A limit admits when the wait it would impose
        # is none, so the waits say both whether to admit and, if not, for how long.
        at = round(now * MICROS)
        planned = PLANS.get(id(limits))
        plan = planned[1] if planned is not None and planned[0] is limits else gcra_plan(limits)
        if len(plan) == 1:  # most keys have one limit: the same, without the lists
            ((name, interval, capacity),) = plan
            with self._lock:
                state = self._keys.get(key_id)
                tat = state.tats.get(name, 0) if state is not None else 0
                ahead = tat - at if tat > at else 0
                wait = ahead + interval - capacity
                if wait > 0:
                    return LimitOutcome(
                        False, "RATE_LIMITED", limits, (tat,), at, None, None, 0,
                        wait / MICROS, (name,),
                    )  # fmt: skip
                if state is None:
                    state = self._keys[key_id] = _KeyState()
                tat = at + ahead + interval
                state.tats[name] = tat
                if tat > state.expires:
                    state.expires = tat
                size = len(self._keys)
                if size > self._sweep_at or (size > _FIRST_SWEEP and at >= self._next_sweep):
                    self._sweep(at)
            return LimitOutcome(True, None, limits, (tat,), at, None, None, 1)
        with self._lock:
            state = self._keys.get(key_id)
            known = state.tats if state is not None else _NO_TATS
            stored = []
            advanced = []
            denied: list[str] = []
            longest = 0
            for name, interval, capacity in plan:
                tat = known.get(name, 0)
                stored.append(tat)
                ahead = tat - at if tat > at else 0
                wait = ahead + interval - capacity
                if wait > 0:
                    denied.append(name)
                    if wait > longest:
                        longest = wait
                else:
                    advanced.append(at + ahead + interval)
            if denied:
                wait_s = longest / MICROS
                return LimitOutcome(
                    False, "RATE_LIMITED", limits, stored, at, None, None, 0, wait_s, tuple(denied)
                )
            if state is None:
                state = self._keys[key_id] = _KeyState()
                known = state.tats
            # What _store does without credits, here to spare the call.
            expires = state.expires
            for limit, tat in zip(plan, advanced, strict=False):  # equal lengths
                known[limit[0]] = tat
                if tat > expires:
                    expires = tat
            state.expires = expires
            size = len(self._keys)
            if size > self._sweep_at or (size > _FIRST_SWEEP and at >= self._next_sweep):
                self._sweep(at)
        return LimitOutcome(True, None, limits, advanced, at, None, None, 1)

    def _step(
        self,
        key_id: str,
        limits: Sequence[RateLimit],
        usage: Usage | None,
        now: float,
        consume: bool,
    ) -> LimitOutcome:
        # Only ``peek`` comes here: ``acquire`` is this class's own.
        if not limits and usage is None:
            return NO_LIMITS
        return self._evaluated(key_id, limits, usage, round(now * MICROS), consume)

    def _evaluated(
        self,
        key_id: str,
        limits: Sequence[RateLimit],
        usage: Usage | None,
        at: int,
        consume: bool,
    ) -> LimitOutcome:
        """One step through :func:`evaluate`, for every case."""
        period = current_period(usage.refill, at) if usage is not None else None
        with self._lock:
            state = self._keys.get(key_id)
            used = 0
            if state is None:
                tats = [0] * len(limits)
            else:
                known = state.tats
                tats = [known.get(limit.name, 0) for limit in limits]
                if period is not None and (spent := state.credits.get(period.id)) is not None:
                    used = spent[0]
            outcome, advanced = evaluate(limits, tats, usage, period, used, at, consume)
            if advanced is not None:
                if state is None:
                    state = self._keys[key_id] = _KeyState()
                self._store(state, limits, advanced, period, used + 1, at)
                size = len(self._keys)
                if size > self._sweep_at or (size > _FIRST_SWEEP and at >= self._next_sweep):
                    self._sweep(at)
        return outcome

    @staticmethod
    def _store(
        state: _KeyState,
        limits: Sequence[RateLimit],
        tats: list[int],
        period: Period | None,
        used: int,
        now: int,
    ) -> None:
        known = state.tats
        expires = state.expires
        for limit, tat in zip(limits, tats, strict=False):  # equal lengths, by construction
            known[limit.name] = tat
            if tat > expires:
                expires = tat
        if period is not None:
            credits = state.credits
            end = _FOREVER if period.end is None else period.end
            if period.id not in credits and credits:
                # A new period began: the counters of those that ended are refilled.
                for old in [id for id, (_, ended) in credits.items() if ended <= now]:
                    del credits[old]
            credits[period.id] = (used, end)
            if end > expires:
                expires = end
        state.expires = expires

    def _sweep(self, now: int) -> None:
        stale = [key_id for key_id, state in self._keys.items() if state.expires <= now]
        for key_id in stale:
            del self._keys[key_id]
        self._sweep_at = max(_FIRST_SWEEP, 2 * len(self._keys))
        self._next_sweep = now + _SWEEP_EVERY
