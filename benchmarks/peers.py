"""The in-process peers, given tDoc's policies translated into their languages.

Both are handed the key's role and network directly, as a service would after looking
the key up itself: neither hashes a key, keeps key state or limits rates, so each does
less than the engine's full check. PyCasbin gets an RBAC model whose policy lines are
the routes each key type may call (``keyMatch2`` paths) and ``ipMatch`` for the client
address; cedarpy gets one ``permit`` per key type and resource, ``forbid`` rules for the
key's network, environment, expiry, revocation and the live-write rule, and its policy
set and entities parsed once into handles, its fastest use.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import yaml

from benchmarks.fixtures import INSIDE, NETWORK, POLICIES

KEY_ID = "key_bench"


def routes() -> Iterator[tuple[str, str, str, str]]:
    """(method, path, resource, action) of each of tDoc's routes that needs a scope."""
    document = yaml.safe_load((POLICIES / "routes.yaml").read_text(encoding="utf-8"))
    for route, target in document["routes"].items():
        if isinstance(target, dict):
            continue  # any valid key may call it: not a question of roles
        method, path = route.split()
        resource, _, action = target.rpartition(":")
        yield method, path, resource.partition("/")[0], action


def role_scopes() -> dict[str, list[str]]:
    document = yaml.safe_load((POLICIES / "key_types.yaml").read_text(encoding="utf-8"))
    return {
        name: kind["scopes"]
        for name, kind in document["key_types"].items()
        if isinstance(kind["scopes"], list)  # "from_key": each key's own, no role's
    }


def grants(scope: str, resource: str, action: str) -> bool:
    if scope == "*":
        return True
    granted_resource, _, granted_action = scope.rpartition(":")
    return granted_resource in ("*", resource) and granted_action in ("*", action)


CASBIN_MODEL = """
[request_definition]
r = sub, obj, act, ip, net

[policy_definition]
p = sub, obj, act

[role_definition]
g = _, _

[policy_effect]
e = some(where (p.eft == allow))

[matchers]
m = g(r.sub, p.sub) && keyMatch2(r.obj, p.obj) && r.act == p.act && ipMatch(r.ip, r.net)
"""


def casbin_check() -> Callable[[], object]:
    import casbin
    from casbin import model as casbin_model

    model = casbin_model.Model()
    model.load_model_from_text(CASBIN_MODEL)
    enforcer = casbin.Enforcer(model)
    for role, scopes in role_scopes().items():
        for method, path, resource, action in routes():
            if any(grants(scope, resource, action) for scope in scopes):
                pattern = path.replace("{", ":").replace("}", "")
                enforcer.add_policy(role, pattern, method)
    enforcer.add_grouping_policy(KEY_ID, "read-only")
    enforce = enforcer.enforce
    if not enforce(KEY_ID, "/v1/events", "GET", INSIDE, NETWORK) or enforce(
        KEY_ID, "/v1/events", "POST", INSIDE, NETWORK
    ):
        raise RuntimeError("the PyCasbin model does not decide as tDoc's policies do")
    return lambda: enforce(KEY_ID, "/v1/events", "GET", INSIDE, NETWORK)


def cedar_policies() -> str:
    lines = []
    for role, scopes in role_scopes().items():
        if "*" in scopes:
            lines.append(f'permit(principal in Role::"{role}", action, resource);')
            continue
        actions: dict[str, set[str]] = {}
        for _, _, resource, action in routes():
            if any(grants(scope, resource, action) for scope in scopes):
                actions.setdefault(resource, set()).add(action)
        for resource, names in sorted(actions.items()):
            listed = ", ".join(f'Action::"{name}"' for name in sorted(names))
            lines.append(
                f'permit(principal in Role::"{role}", action in [{listed}], '
                f'resource == Resource::"{resource}");'
            )
    lines += [
        "forbid(principal, action, resource) when { principal.revoked };",
        "forbid(principal, action, resource) unless { principal.expires > context.now };",
        'forbid(principal, action, resource) unless { principal.environment == "live" };',
        "forbid(principal, action, resource) when { principal.restricted } "
        "unless { context.ip.isInRange(principal.network) };",
        'forbid(principal, action in [Action::"write", Action::"trigger", Action::"delete"], '
        'resource) when { principal.environment == "live" && !principal.restricted };',
    ]
    return "\n".join(lines)


def _ip(text: str) -> dict[str, Any]:
    return {"__extn": {"fn": "ip", "arg": text}}


def cedar_check() -> Callable[[], object]:
    import cedarpy

    policies = cedarpy.PolicySet.from_str(cedar_policies())
    roles = [
        {"uid": {"type": "Role", "id": role}, "attrs": {}, "parents": []} for role in role_scopes()
    ]
    key = {
        "uid": {"type": "Key", "id": KEY_ID},
        "attrs": {
            "environment": "live",
            "revoked": False,
            "expires": int(time.time()) + 30 * 86400,
            "restricted": True,
            "network": _ip(NETWORK),
        },
        "parents": [{"type": "Role", "id": "read-only"}],
    }
    resources = {resource for _, _, resource, _ in routes()}
    entities = cedarpy.Entities.from_json_str(
        json.dumps(
            [key, *roles]
            + [
                {"uid": {"type": "Resource", "id": r}, "attrs": {}, "parents": []}
                for r in resources
            ]
        )
    )
    principal = f'Key::"{KEY_ID}"'
    is_authorized = cedarpy.is_authorized
    clock = time.time

    def check(action: str = "read", ip: str = INSIDE) -> bool:
        asked = {
            "principal": principal,
            "action": f'Action::"{action}"',
            "resource": 'Resource::"events"',
            "context": {"ip": _ip(ip), "now": int(clock())},
        }
        return bool(is_authorized(asked, policies, entities).allowed)

    if not check() or check("write") or check(ip="198.51.100.7"):
        raise RuntimeError("the Cedar policies do not decide as tDoc's policies do")
    return check
