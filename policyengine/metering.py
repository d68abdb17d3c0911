"""The last steps, usage and rate: the limiter's answer on a decision the rules allowed.

One limiter call covers every limit and the credits, all or nothing. When the limiter
fails, the request fails closed unless every one of its limits says ``on_error: allow``
(:func:`~policyengine.limits.fails_open`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from policyengine.decision import Code, Decision, Step
from policyengine.errors import StorageError
from policyengine.limits import LimitOutcome, RateLimitHeaders, fails_open
from policyengine.policy.model import RateLimit
from policyengine.record import KeyRecord, Usage

log = logging.getLogger("policyengine")

#: ``acquire`` or ``peek`` of a limiter.
Take = Callable[[str, Sequence[RateLimit], "Usage | None", float], LimitOutcome]


def apply_limits(
    decision: Decision,
    key: KeyRecord,
    limits: Sequence[RateLimit],
    usage: Usage | None,
    take: Take,
    at: float,
) -> Decision:
    """``decision``, allowed so far, after ``take`` (the limiter's ``acquire`` or ``peek``)
    for ``key`` at ``at`` (seconds since the epoch): with its ``RateLimit`` headers, or
    denied by the usage or rate step."""
    try:
        outcome = take(key.lineage, limits, usage, at)
    except StorageError as error:
        return limiter_failed(decision, key, limits, usage, error)
    decision.headers = RateLimitHeaders(outcome)
    if outcome.allowed:
        if decision.trace is not None:
            decision.trace = (*decision.trace, Step("rate", True, "within limits"))
        return decision
    return over_limits(decision, outcome)


def limiter_failed(
    decision: Decision,
    key: KeyRecord,
    limits: Sequence[RateLimit],
    usage: Usage | None,
    error: StorageError,
) -> Decision:
    """``decision`` when the limiter could not answer: let through unmetered if every
    limit says so, else unavailable."""
    if fails_open(limits, usage):
        log.warning("limiter unavailable; %s is let through unmetered", key.id)
        return add_step(decision, "rate", True, "limiter unavailable; fail open")
    decision.allowed, decision.code, decision.step = False, Code.UNAVAILABLE, "rate"
    decision.reason, decision.rule = "the rate limiter is unavailable", None
    decision.error = str(error)
    return add_step(decision, "rate", False, decision.reason)


def over_limits(decision: Decision, outcome: LimitOutcome) -> Decision:
    """``decision`` denied by the limiter's ``outcome``: the credits, or a rate limit."""
    if outcome.code == "USAGE_EXCEEDED":
        decision.code, decision.step = Code.USAGE_EXCEEDED, "usage"
        decision.reason = "the key's usage credits are spent"
    else:
        decision.code, decision.step = Code.RATE_LIMITED, "rate"
        denied_by = outcome.denied_by
        reason = _RATE_REASONS.get(denied_by)
        if reason is None:
            reason = f"over the rate limit ({', '.join(denied_by)})"
            if len(_RATE_REASONS) < 1024:  # limit names come from policy files: few
                _RATE_REASONS[denied_by] = reason
        decision.reason = reason
    decision.allowed, decision.rule = False, None
    if decision.trace is None:  # an attack arrives as denials: this is their hot path
        return decision
    return add_step(decision, decision.step, False, decision.reason)


_RATE_REASONS: dict[tuple[str, ...], str] = {}


def add_step(decision: Decision, step: str, passed: bool, detail: str) -> Decision:
    """``decision`` with one more line in its explanation, if it has one."""
    if decision.trace is not None:
        decision.trace = (*decision.trace, Step(step, passed, detail))
    return decision
