"""Catching a typo in a route's target.

Routes declare the resources and actions they name, so a misspelt route target would
declare a resource of its own (``evnts``) that nothing grants, and the mistake would show
only when a request is denied. So a route's resource (or action) that nothing else names
— no key type's scope, no rule, no ``resources:`` entry — and that is close to one that
is named, is taken for the typo it almost certainly is. A new resource far from every
other (an admin API that only ``*`` grants, say) is left alone.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from policyengine.errors import Diagnostic
from policyengine.language.checker import suggest
from policyengine.policy.model import KeyType, Route, Rule


def unnamed_route_targets(
    routes: Iterable[Route],
    known: Mapping[str, set[str]],
    declared: Mapping[str, set[str]],
    key_types: Iterable[KeyType],
    rules: Iterable[Rule],
) -> list[Diagnostic]:
    """A diagnostic at each route (but ``any_key`` ones, which no scope is asked for) whose
    resource, or action, nothing but routes names and is close to a name used elsewhere.
    ``known`` is every resource and action; a scope naming anything else is an error of
    its own, and names nothing here."""
    resources = set(declared)
    actions = {(name, action) for name, listed in declared.items() for action in listed}
    every_action = set().union(*known.values()) if known else set()
    # Actions named for any resource (``*:read``, a rule's ``actions``). A ``*`` names
    # nothing: it grants whatever there is, typos included.
    any_resource: set[str] = set()
    for key_type in key_types:
        for scope in (*(key_type.scopes or ()), *key_type.allowed_scopes):
            if scope.resource != "*" and scope.resource in known:
                resources.add(scope.resource)
            if scope.action == "*":
                continue
            if scope.resource == "*" and scope.action in every_action:
                any_resource.add(scope.action)
            elif scope.action in known.get(scope.resource, ()):
                actions.add((scope.resource, scope.action))
    for rule in rules:
        resources.update(name for name in rule.resources if name != "*")
        any_resource.update(name for name in rule.actions if name != "*")
    found: list[Diagnostic] = []
    reported: set[tuple[str, str]] = set()
    for route in routes:
        if route.any_key:
            continue
        spec = f"{route.method} {route.path}"
        if route.resource not in resources:
            hint = suggest(route.resource, sorted(resources))
            if hint and (route.resource, "") not in reported:
                reported.add((route.resource, ""))
                found.append(
                    Diagnostic(
                        route.location,
                        f"route '{spec}' names resource '{route.resource}', which no scope, "
                        f"rule or resources: entry names{hint}",
                    )
                )
            continue
        if (route.resource, route.action) in actions or route.action in any_resource:
            continue
        named = sorted({a for r, a in actions if r == route.resource} | any_resource)
        hint = suggest(route.action, named)
        if hint and (route.resource, route.action) not in reported:
            reported.add((route.resource, route.action))
            found.append(
                Diagnostic(
                    route.location,
                    f"route '{spec}' names action '{route.action}' of '{route.resource}', "
                    f"which no scope, rule or resources: entry names{hint}",
                )
            )
    return found
