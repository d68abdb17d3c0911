"""Reading the ``key_types:`` of a policy file: scopes, rate limits, usage, lifetimes."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import yaml

from policyengine.errors import InvalidValue
from policyengine.language.checker import suggest
from policyengine.policy.model import REQUIRABLE_FIELDS, KeyType, RateLimit
from policyengine.policy.scopes import Scope, parse_scope
from policyengine.policy.source import Reader
from policyengine.record import ENVIRONMENTS, MAX_CREDITS, Usage
from policyengine.units import make_rate, parse_duration, parse_period, parse_rate

if TYPE_CHECKING:
    from policyengine.policy.loader import Collected

KEY_TYPE_KEYS = (
    "description",
    "scopes",
    "allowed_scopes",
    "rate_limit",
    "rate_limits",
    "usage",
    "max_lifetime",
    "requires",
    "environments",
)
NAME = re.compile(r"[a-z0-9][a-z0-9_.-]*")


def _scope_list(
    r: Reader, node: yaml.Node, what: str, pending: Collected
) -> tuple[Scope, ...] | None:
    scopes = []
    for text, item in r.strings(node, what) or ():
        try:
            scope = parse_scope(text)
        except InvalidValue as error:
            r.error(item, str(error))
            continue
        pending.scope_refs.append((r, item, scope))
        scopes.append(scope)
    return tuple(scopes)


def read_key_type(
    r: Reader, name: str, name_node: yaml.Node, node: yaml.Node, pending: Collected
) -> KeyType | None:
    what = f"key type '{name}'"
    fields = r.mapping(node, what, KEY_TYPE_KEYS)
    if fields is None:
        return None
    ok = True
    description = ""
    if "description" not in fields:
        r.error(name_node, f"{what} needs a description")
        ok = False
    else:
        description = r.string(fields["description"][1], "description") or ""
    scopes: tuple[Scope, ...] | None = ()
    allowed: tuple[Scope, ...] = ()
    if "scopes" not in fields:
        r.error(name_node, f"{what} needs scopes: a list, or from_key")
        ok = False
    else:
        scopes_node = fields["scopes"][1]
        if isinstance(scopes_node, yaml.ScalarNode) and scopes_node.value == "from_key":
            scopes = None
            if "allowed_scopes" not in fields:
                r.error(
                    scopes_node, f"{what} takes scopes from its keys, so it needs allowed_scopes"
                )
                ok = False
        else:
            scopes = _scope_list(r, scopes_node, "scopes", pending)
    if "allowed_scopes" in fields:
        if scopes is not None:
            r.error(fields["allowed_scopes"][0], "allowed_scopes goes with 'scopes: from_key'")
            ok = False
        allowed = _scope_list(r, fields["allowed_scopes"][1], "allowed_scopes", pending) or ()
    limits = _rate_limits(r, fields)
    usage = _usage(r, fields["usage"][1]) if "usage" in fields else None
    lifetime = None
    if "max_lifetime" in fields:
        lifetime = r.parsed(fields["max_lifetime"][1], "max_lifetime", parse_duration)
    requires = []
    requested = r.strings(fields["requires"][1], "requires") if "requires" in fields else []
    for field_name, item in requested or ():
        if field_name in REQUIRABLE_FIELDS or (
            field_name.startswith("metadata.") and len(field_name) > len("metadata.")
        ):
            requires.append(field_name)
        else:
            options = [*REQUIRABLE_FIELDS, "metadata.<name>"]
            r.error(
                item,
                f"a key type cannot require '{field_name}'"
                + suggest(field_name, options)
                + f"; it may require {', '.join(options)}",
            )
    environments = ENVIRONMENTS
    if "environments" in fields:
        chosen = set()
        for env, item in r.strings(fields["environments"][1], "environments") or ():
            if env in ENVIRONMENTS:
                chosen.add(env)
            else:
                r.error(item, f"environment must be test or live, not '{env}'")
        environments = tuple(e for e in ENVIRONMENTS if e in chosen)
    if not ok or limits is None:
        return None
    return KeyType(
        name=name,
        description=description,
        scopes=scopes,
        allowed_scopes=allowed,
        rate_limits=limits,
        usage=usage,
        max_lifetime=lifetime,
        requires=tuple(requires),
        environments=environments,
        location=r.location(name_node),
    )


def _rate_limits(
    r: Reader, fields: dict[str, tuple[yaml.Node, yaml.Node]]
) -> tuple[RateLimit, ...] | None:
    if "rate_limit" in fields and "rate_limits" in fields:
        r.error(fields["rate_limits"][0], "write rate_limit or rate_limits, not both")
        return None
    if "rate_limit" in fields:
        limit = _rate_limit(r, "default", fields["rate_limit"][1])
        return (limit,) if limit else None
    limits = []
    if "rate_limits" in fields:
        for name, (name_node, node) in (
            r.mapping(fields["rate_limits"][1], "rate_limits") or {}
        ).items():
            if not NAME.fullmatch(name):
                r.error(name_node, f"limit name '{name}' must be lower case: a-z, 0-9, _ . -")
                return None
            if name == "usage":
                r.error(name_node, "'usage' names usage credits; give the limit another name")
                return None
            limit = _rate_limit(r, name, node)
            if limit is None:
                return None
            limits.append(limit)
    return tuple(limits)


def _rate_limit(r: Reader, name: str, node: yaml.Node) -> RateLimit | None:
    if not isinstance(node, yaml.MappingNode):
        rate = r.parsed(node, "a rate limit", parse_rate)
        return RateLimit(name, rate) if rate else None
    fields = r.mapping(node, f"rate limit '{name}'", ("limit", "per", "burst", "on_error"))
    if fields is None:
        return None
    if "limit" not in fields or "per" not in fields:
        r.error(
            node, f"rate limit '{name}' needs limit and per, such as {{limit: 600, per: minute}}"
        )
        return None
    limit = r.integer(fields["limit"][1], "limit", minimum=1)
    period = r.parsed(fields["per"][1], "per", parse_period)
    burst = r.integer(fields["burst"][1], "burst", minimum=1) if "burst" in fields else limit
    on_error = (
        r.choice(fields["on_error"][1], "on_error", ("deny", "allow"))
        if "on_error" in fields
        else "deny"
    )
    if limit is None or period is None or burst is None or on_error is None:
        return None
    try:
        return RateLimit(name, make_rate(limit, period, burst), on_error)  # type: ignore[arg-type]
    except InvalidValue as error:
        r.error(node, str(error))
        return None


def _usage(r: Reader, node: yaml.Node) -> Usage | None:
    fields = r.mapping(node, "usage", ("credits", "refill"))
    if fields is None or "credits" not in fields:
        if fields is not None:
            r.error(node, "usage needs credits, such as {credits: 10000, refill: monthly}")
        return None
    credits = r.integer(fields["credits"][1], "credits", minimum=1)
    if credits is not None and credits > MAX_CREDITS:
        r.error(fields["credits"][1], f"credits must be at most {MAX_CREDITS:,}")
        return None
    refill = (
        r.choice(fields["refill"][1], "refill", ("daily", "monthly", "never"))
        if "refill" in fields
        else "monthly"
    )
    if credits is None or refill is None:
        return None
    return Usage(credits, refill)  # type: ignore[arg-type]
