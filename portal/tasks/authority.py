"""The authority a run's ``request`` steps carry: the key that triggered the run, never more,
and, when another key wrote the task, never more than that key's scopes either. A task is
written by one key and may be triggered by another: without the second bound, a key that
may write tasks could write one that revokes keys or registers a hook on ``key.*``, and
wait for an admin to run it.

Nothing of the trigger's secret is kept. When a step calls the API, a token is issued
for the key (narrowed to the scopes the trigger's own token carried, if it came with
one) and lives a few minutes, in memory, for that one call, which the engine then checks
like any other: a key revoked since the trigger is refused, and the step fails with the
engine's decision. A key whose end makes even a token impossible (expired, or its
rotation grace over) is refused here with the same code the engine would give.
"""

from __future__ import annotations

from datetime import datetime

from policyengine.decision import Code
from policyengine.engine import Engine
from policyengine.errors import KeyRequestError
from policyengine.policy.scopes import Scope, covered, parse_scope
from policyengine.record import KeyRecord

#: How long the token of one step's call lives.
STEP_TOKEN_TTL = 300
_STATE_CODES = {"revoked": Code.REVOKED, "expired": Code.EXPIRED, "disabled": Code.DISABLED}


class Refused(Exception):
    """No token could stand for the key: the decision the engine would give, and why."""

    def __init__(self, code: Code, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def run_scopes(
    engine: Engine, author_id: str, trigger_id: str, trigger_scopes: tuple[str, ...] | None
) -> tuple[str, ...] | None:
    """The scopes a run's requests carry: those the trigger holds (its token's, or its key's
    when ``trigger_scopes`` is ``None``), narrowed to those the task's author holds, unless
    the author triggers it. Empty when the two share none."""
    if author_id == trigger_id:
        return trigger_scopes
    held = (
        tuple(parse_scope(text) for text in trigger_scopes)
        if trigger_scopes is not None
        else _held(engine, trigger_id)
    )
    authored = _held(engine, author_id)
    both = [s for s in authored if covered(s, held)] + [s for s in held if covered(s, authored)]
    return tuple(dict.fromkeys(str(scope) for scope in both))


def _held(engine: Engine, key_id: str) -> tuple[Scope, ...]:
    # Whatever the key's state: a task outlives the key that wrote it (rotated, revoked),
    # and still does no more than that key could.
    key = engine.keys.lookup_id(key_id)
    return () if key is None else tuple(_granted(engine, key))


def _granted(engine: Engine, key: KeyRecord) -> list[Scope]:
    """The scopes of the key's type, or its own within the type's allowance."""
    prepared = engine.prepared
    return prepared.grants(key, prepared.key_types.get(key.type))


def step_credential(
    engine: Engine, key_id: str, scopes: tuple[str, ...] | None, now: datetime
) -> str:
    """A short-lived token for ``key_id``'s authority at ``now``, or :class:`Refused`."""
    key = engine.keys.lookup_id(key_id)
    if key is None:
        raise Refused(Code.NOT_FOUND, "the key that triggered the run no longer exists")
    granted = [str(scope) for scope in _granted(engine, key)]
    try:
        return engine.tokens.service.issue(
            key, granted, None if scopes is None else list(scopes), STEP_TOKEN_TTL, now
        )
    except KeyRequestError as error:
        code = _STATE_CODES.get(key.state(now), Code.INSUFFICIENT_SCOPE)
        raise Refused(code, f"the key that triggered the run cannot act: {error}") from None
