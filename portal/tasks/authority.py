"""The authority a run's ``request`` steps carry: the key that triggered the run, never more.

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

#: How long the token of one step's call lives.
STEP_TOKEN_TTL = 300
_STATE_CODES = {"revoked": Code.REVOKED, "expired": Code.EXPIRED, "disabled": Code.DISABLED}


class Refused(Exception):
    """No token could stand for the key: the decision the engine would give, and why."""

    def __init__(self, code: Code, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def step_credential(
    engine: Engine, key_id: str, scopes: tuple[str, ...] | None, now: datetime
) -> str:
    """A short-lived token for ``key_id``'s authority at ``now``, or :class:`Refused`."""
    key = engine.keys.lookup_id(key_id)
    if key is None:
        raise Refused(Code.NOT_FOUND, "the key that triggered the run no longer exists")
    prepared = engine.prepared
    granted = [str(scope) for scope in prepared.grants(key, prepared.key_types.get(key.type))]
    try:
        return engine.tokens.service.issue(
            key, granted, None if scopes is None else list(scopes), STEP_TOKEN_TTL, now
        )
    except KeyRequestError as error:
        code = _STATE_CODES.get(key.state(now), Code.INSUFFICIENT_SCOPE)
        raise Refused(code, f"the key that triggered the run cannot act: {error}") from None
