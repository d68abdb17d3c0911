"""The steps before the limits, remembered: most checks repeat an answer already worked out.

What :func:`~policyengine.pipeline.judge` answers for a resolved request depends on the
request through its method and path (or resource and action), its address and the kind
of credential; and on the time only through the key's revocation and expiry, unless a
rule's condition reads the time or a header, or headers name the client's address. Such
an answer is kept per key record, request and policy set, for the span of time in which
the key's state cannot change, and each check gets a new :class:`Decision` made from it.
A condition that reads the time or a header is evaluated on every check.

The record is compared by identity: a record read again from the store, after a change
or at the lookup cache's refresh, is a new object, so its answers are worked out afresh.
A policy reload makes a new prepared policy set, which starts with no answers.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from policyengine.decision import NO_HEADERS, Code, Decision
from policyengine.keys.cache import DEFAULT_CACHE_MEMORY, ENTRY_BYTES
from policyengine.net import Proxies
from policyengine.pipeline import Resolved, judge, resolve
from policyengine.policy.prepared import PreparedPolicy
from policyengine.record import KeyRecord
from policyengine.request import Request

#: Answers kept at most per policy set, past which the table starts again: one for each
#: key the lookup cache holds by default, so that a deployment with as many keys in use
#: keeps an answer for each (about 0.5 KB apiece).
MAX_JUDGED = DEFAULT_CACHE_MEMORY // ENTRY_BYTES

# The steps whose answers come from the scope and rule step (or from its failure).
_AUTHORIZED = frozenset({"done", "scope", "rules"})


def judged(
    prepared: PreparedPolicy,
    key: KeyRecord,
    request: Request,
    now: datetime,
    proxies: Proxies,
    environment: str | None,
    credential_type: str,
    token_scopes: tuple[str, ...] | None = None,
) -> tuple[Decision, bool]:
    """What ``judge(prepared, key, resolve(prepared, request, …), …)`` answers, without
    an explanation, from the answers kept when it may be; and whether the request's route
    is metered (true when it matched none)."""
    if request.headers and (prepared.headers or proxies):
        # The answer may depend on headers (a forwarded address, a declared header).
        decision, resolved = _judged(
            prepared, key, request, now, proxies, environment, credential_type, token_scopes
        )
        return decision, metered(resolved)
    asked = (
        id(key),
        environment,
        request.method,
        request.path,
        request.resource,
        request.action,
        request.ip,
        credential_type,
        token_scopes,
    )
    kept = recall(prepared.judgements, asked, key, now.timestamp())
    if kept is not None:
        return Decision(*kept[ANSWER]), kept[METERED]
    decision, resolved = _judged(
        prepared, key, request, now, proxies, environment, credential_type, token_scopes
    )
    is_metered = metered(resolved)
    if _request_free(prepared, key, resolved, decision, token_scopes):
        answers = prepared.judgements
        if len(answers) >= MAX_JUDGED:
            answers.clear()
        since, until = _span(key, now)
        limits, usage = prepared.limits_for(key)
        answers[asked] = (
            key,
            since,
            until,
            (
                decision.allowed,
                decision.code,
                decision.reason,
                decision.step,
                decision.rule,
                decision.key,
                NO_HEADERS,
                None,
                decision.error,
            ),
            is_metered,
            limits,
            usage,
        )
    return decision, is_metered


#: A kept answer: the key record, the instants (seconds since the epoch) between which
#: its state holds (``since <= at < until``), the fields of the :class:`Decision`, whether
#: the route is metered, and the key's limits and credits under the policy set the answer
#: was kept in.
Kept = tuple[Any, ...]
ANSWER, METERED, LIMITS, USAGE = 3, 4, 5, 6


def recall(
    answers: dict[tuple[object, ...], Kept], asked: tuple[object, ...], key: KeyRecord, at: float
) -> Kept | None:
    """The answer kept for ``asked`` if it holds for ``key`` at ``at`` (seconds since the
    epoch)."""
    kept = answers.get(asked)
    if kept is not None and kept[0] is key and kept[1] <= at < kept[2]:
        return kept
    return None


def metered(resolved: Resolved) -> bool:
    """Whether a check of ``resolved`` uses its limits: unless its route says it does not."""
    return resolved.route is None or resolved.route.route.metered


def _judged(
    prepared: PreparedPolicy,
    key: KeyRecord,
    request: Request,
    now: datetime,
    proxies: Proxies,
    environment: str | None,
    credential_type: str,
    token_scopes: tuple[str, ...] | None,
) -> tuple[Decision, Resolved]:
    resolved = resolve(prepared, request, now.timestamp(), proxies, credential_type)
    return judge(prepared, key, resolved, environment, now, token_scopes), resolved


def _request_free(
    prepared: PreparedPolicy,
    key: KeyRecord,
    resolved: Resolved,
    decision: Decision,
    token_scopes: tuple[str, ...] | None,
) -> bool:
    """Whether ``decision`` read nothing of the request but what an answer is kept by:
    it was decided before the rules, or by a plan whose conditions read only the key and
    what the answer is kept by. A rule that failed is never kept: it is tried again."""
    if resolved.problem is not None or decision.step not in _AUTHORIZED:
        return True
    if decision.code is Code.UNAVAILABLE:
        return False
    ctx = resolved.ctx
    return prepared.is_steady(key, token_scopes, ctx.resource, ctx.action, resolved.any_key)


def _span(key: KeyRecord, now: datetime) -> tuple[float, float]:
    """The instants (seconds since the epoch, infinite for none) between which the key's
    state is what it is at ``now``: its state changes only when it is revoked or
    expires."""
    since = until = None
    for moment in (key.revoked_at, key.expires_at):
        if moment is None:
            continue
        if moment <= now:
            since = moment if since is None or moment > since else since
        else:
            until = moment if until is None or moment < until else until
    return (
        -math.inf if since is None else since.timestamp(),
        math.inf if until is None else until.timestamp(),
    )
