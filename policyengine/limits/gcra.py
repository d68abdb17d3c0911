"""GCRA, the generic cell rate algorithm, as pure functions over a stored arrival time.

A limit of ``limit`` requests per ``period`` with ``burst`` at once is a leaky bucket kept
as one number, the theoretical arrival time (TAT): the instant at which the bucket would
be empty again if nothing else arrived. Each admitted request pushes the TAT one emission
interval ``T = period / limit`` into the future; a request is admitted while that leaves
the TAT at most ``burst × T`` ahead of now. A stored TAT in the past means a full bucket,
so state that has fallen behind the clock can be forgotten: absent and stale are equal.

The guarantee: if requests are admitted at ``a₁ ≤ … ≤ aₙ`` within an interval of length
``t``, the TAT before the n-th admission is at least ``a₁ + (n-1)·T``, and the test admits
only if that is at most ``aₙ + (burst-1)·T``; so ``n ≤ burst + t/T = burst + rate × t``.

Time is counted in whole microseconds and ``T`` is rounded *up* to a whole microsecond,
so the arithmetic is exact (in Python and in Redis's Lua alike, where integers below 2⁵³
are exact doubles) and the rounding can only make a limit stricter, never looser.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, NamedTuple

from policyengine.units import Rate

if TYPE_CHECKING:
    from policyengine.policy.model import RateLimit

MICROS = 1_000_000


class Gcra(NamedTuple):
    """A rate as the algorithm sees it, in microseconds."""

    #: The emission interval ``T``: the time one request costs.
    interval: int
    #: ``burst × T``: how far ahead of now an admission may push the TAT.
    capacity: int


class GcraResult(NamedTuple):
    """The state after a step; every duration is in microseconds."""

    allowed: bool
    #: The TAT to store: advanced if a request was admitted, else unchanged.
    tat: int
    #: How many more requests would be admitted right now.
    remaining: int
    #: Time until the bucket is full again (0 when it is).
    reset: int
    #: Time until one more request would be admitted (0 when it would be now).
    retry_after: int


#: ``id(rate)`` → the rate and its parameters. Looked up by identity, which costs a tenth
#: of hashing the rate's fields; the rate is held, so that its id is not reused meanwhile.
_PARAMS: dict[int, tuple[Rate, Gcra]] = {}
_MAX_PARAMS = 4096


def gcra_params(rate: Rate) -> Gcra:
    """The emission interval and capacity of ``rate``; cached, as rates are few."""
    found = _PARAMS.get(id(rate))
    if found is not None and found[0] is rate:
        return found[1]
    period = round(rate.period * MICROS)
    interval = max(1, -(-period // rate.limit))
    params = Gcra(interval, rate.burst * interval)
    if len(_PARAMS) >= _MAX_PARAMS:
        _PARAMS.clear()
    _PARAMS[id(rate)] = (rate, params)
    return params


#: ``id(limits)`` → the limits and :func:`gcra_plan` of them, held like :data:`_PARAMS`.
PLANS: dict[int, tuple[Sequence[RateLimit], tuple[tuple[str, int, int], ...]]] = {}


def gcra_plan(limits: Sequence[RateLimit]) -> tuple[tuple[str, int, int], ...]:
    """``(name, interval, capacity)`` of each limit, in order, remembered in :data:`PLANS`
    (limit sets are made once per key version and policy set): the caller looks the plan
    up there first, on its hot path, and calls this only when it is not."""
    plan = tuple((limit.name, *gcra_params(limit.rate)) for limit in limits)
    if len(PLANS) >= _MAX_PARAMS:
        PLANS.clear()
    PLANS[id(limits)] = (limits, plan)
    return plan


def admit(tat: int, now: int, params: Gcra) -> int | None:
    """The TAT after admitting a request at ``now``, or ``None`` if the limit denies it."""
    interval, capacity = params
    start = tat if tat > now else now
    return start + interval if start + interval - now <= capacity else None


def gcra(tat: int, now: int, params: Gcra, consume: bool) -> GcraResult:
    """One step: admit a request at ``now`` if the limit allows (``consume``), or just look.

    With ``consume=False`` nothing changes and ``allowed`` is always true; the result
    describes the current state (``retry_after == 0`` says a request would be admitted).
    """
    allowed = True
    if consume:
        advanced = admit(tat, now, params)
        if advanced is None:
            allowed = False
        else:
            tat = advanced
    interval, capacity = params
    ahead = tat - now if tat > now else 0
    wait = ahead + interval - capacity
    return GcraResult(
        allowed,
        tat,
        (capacity - ahead) // interval if ahead <= capacity else 0,
        ahead,
        wait if wait > 0 else 0,
    )
