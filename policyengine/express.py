"""The common check in one call: a key in the lookup cache, the answer kept for it, and
its limits.

Most requests repeat one already judged: the same key, route and address, under the same
policy set, while the key's state cannot change. For those, what the full path does is
done here without its layers: the key is looked up in the cache, the answer the full path
kept for it (:mod:`policyengine.judged`) is recalled, and the limiter is asked. Anything
not at hand — a key to read from the store, an answer not kept, a replay, a dry run, an
explanation, a token — answers ``None`` before any effect but the key's last use (which,
noted twice in a minute, is noted once), and the engine takes the full path, which keeps
what the next check here will find.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from time import perf_counter
from typing import TYPE_CHECKING

from policyengine.decision import Code, Decision
from policyengine.errors import InvalidValue, StorageError
from policyengine.judged import ANSWER, LIMITS, METERED, USAGE
from policyengine.keys.lookup import NotCached
from policyengine.limits import RateLimitHeaders
from policyengine.metering import limiter_failed, over_limits
from policyengine.pipeline import deny
from policyengine.request import Request

if TYPE_CHECKING:
    from policyengine.engine import Engine

log = logging.getLogger("policyengine")
DEBUG = logging.DEBUG

#: ``check(request, wait)``: the decision, or ``None`` when the full path must decide.
Express = Callable[[Request, bool], "Decision | None"]


def failed(error: Exception) -> Decision:
    """The decision on a check that raised: any failure denies."""
    log.warning("check failed: %s: %s", type(error).__name__, error)
    return deny(
        Code.UNAVAILABLE,
        "engine",
        "the engine could not decide",
        error=f"{type(error).__name__}: {error}",
    )


def logged(decision: Decision) -> None:
    log.debug(
        "decision %s %s key=%s step=%s",
        decision.code,
        decision.status,
        decision.key.id if decision.key else "-",
        decision.step,
    )


def unknown_key() -> Decision:
    return deny(Code.NOT_FOUND, "key", "no such key")


def malformed_key(error: InvalidValue) -> Decision:
    return deny(Code.MALFORMED_CREDENTIAL, "credential", str(error))


def express(engine: Engine) -> Express:
    """The common check of ``engine``. ``wait`` is false for
    :meth:`~policyengine.engine.Engine.try_check`, which must not wait for the network."""
    lookups = engine.keys.lookups
    lookup, note = lookups.lookup, lookups.last_used.note
    # Assigning engine.limiter builds the short path anew; its acquire is looked up per
    # call, so that a limiter's method replaced in place is the one asked.
    limiter = engine.limiter
    in_process = getattr(limiter, "in_process", False)
    environment = engine.environment
    proxied = bool(engine.proxies)
    clock, seconds = engine._clock, engine._seconds
    length = engine.keys.key_format.length

    def check(request: Request, wait: bool) -> Decision | None:
        credential = request.credential
        if request.time is not None or credential is None or len(credential) != length:
            return None
        # Read once: a reload swaps the policy set, and close() stops the recording.
        prepared, record = engine._prepared, engine._record
        if request.headers and (prepared.headers or proxied):
            return None
        started = perf_counter() if record is not None else 0.0
        at = seconds()  # a clock that fails fails the check, as on the full path
        try:
            key = lookup(credential, clock, False, False)
        except NotCached:
            return None
        except InvalidValue as error:
            decision = malformed_key(error)
        except Exception as error:
            decision = failed(error)
        else:
            if key is None:
                decision = unknown_key()
            else:
                # Noting a use twice in a minute is noting it once: the full path may follow.
                note(key, at)
                # The key judged() keeps a key's answers by, inline like recall() below.
                asked = (
                    id(key),
                    environment,
                    request.method,
                    request.path,
                    request.resource,
                    request.action,
                    request.ip,
                    "key",
                    None,
                )
                # recall(), inline: this is most checks.
                kept = prepared.judgements.get(asked)
                if kept is None or kept[0] is not key or not kept[1] <= at < kept[2]:
                    return None
                decision = Decision(*kept[ANSWER])
                limits, usage = kept[LIMITS], kept[USAGE]
                if decision.allowed and (limits or usage is not None):
                    # An unmetered route only peeks: the full path does that.
                    if not kept[METERED] or not (wait or in_process):
                        return None
                    # apply_limits(), inline but for its failures.
                    try:
                        outcome = limiter.acquire(key.lineage, limits, usage, at)
                    except StorageError as error:
                        decision = limiter_failed(decision, key, limits, usage, error)
                    except Exception as error:
                        decision = failed(error)
                    else:
                        decision.headers = RateLimitHeaders(outcome)
                        if not outcome.allowed:
                            decision = over_limits(decision, outcome)
        if log.isEnabledFor(DEBUG):
            logged(decision)
        if record is not None:
            record(started, at, request, decision, prepared)
        return decision

    return check
