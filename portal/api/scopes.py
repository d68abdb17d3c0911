"""What the caller's scopes in force grant, for the answers that carry another resource's
data: a hook tells of events, runs and keys, and its deliveries hold what it was told; a
run holds what its requests read with the authority of the key that triggered it."""

from __future__ import annotations

from collections.abc import Iterable

from portal.api.deps import Caller
from portal.http.errors import Forbidden
from portal.services import Services

#: The resource each family of kinds tells of: hearing it, or reading what was heard,
#: takes that resource's read scope (an alert is about a key).
TOLD_OF = {"event": "events", "task": "tasks", "key": "keys", "alert": "keys"}


def token_scopes(services: Services, caller: Caller) -> tuple[str, ...] | None:
    """The scopes of the token the caller presented, or ``None`` for an API key, which
    carries the key's own."""
    if "." not in caller.credential:
        return None
    return services.engine.tokens.verify(caller.credential, services.clock()).scopes


def grants(
    services: Services, caller: Caller, resource: str, action: str, instance: str = ""
) -> bool:
    """Whether a scope the caller holds grants ``action`` on ``resource`` (on the one
    ``instance`` it names, or, by default, on every one, as ``GET /v1/<resource>`` would
    need). Only scopes count: an answer withheld for want of one is never wrongly shown."""
    engine = services.engine
    key = engine.keys.lookup_id(caller.key_id)
    if key is None:
        return False
    prepared = engine.prepared
    held = prepared.grants(key, prepared.key_types.get(key.type), token_scopes(services, caller))
    return any(scope.grants(resource, instance, action) for scope in held)


def may_read_answer(services: Services, caller: Caller, method: str, path: str) -> bool:
    """Whether the caller may read what ``method path`` answered: the route's resource
    (or the one instance it names), read."""
    found = services.engine.prepared.route(method, path)
    if found is None:
        return False
    route = found.route
    return grants(services, caller, route.resource, "read", found.instance)


def require_reading(services: Services, caller: Caller, kinds: Iterable[str]) -> None:
    """:class:`Forbidden` unless the caller may read every resource ``kinds`` (hook
    patterns such as ``key.*``, ``task.run.succeeded`` or ``*``) tell of."""
    for kind in dict.fromkeys(kinds):
        family = kind.split(".", 1)[0]
        told = sorted(set(TOLD_OF.values())) if family == "*" else [TOLD_OF[family]]
        for resource in told:
            if not grants(services, caller, resource, "read"):
                raise Forbidden(
                    f"{kind} tells of {resource}, and no scope of this key grants {resource}:read"
                )
