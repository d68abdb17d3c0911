"""A deliberately small interpreter of policy semantics, used only to check the compiler.

It walks condition trees directly, keeps addresses as ``ipaddress`` objects and matches
globs with a plain dynamic program, so it shares none of the compiled path's tricks
(integer address space, bisection, generated code, plans)."""

from __future__ import annotations

import ipaddress
from datetime import UTC, datetime, timedelta

from policyengine.language import ast
from policyengine.policy.model import PolicySet, Rule
from policyengine.policy.scopes import parse_scope
from policyengine.record import NEVER, KeyRecord

Address = ipaddress.IPv6Address
Network = ipaddress.IPv6Network


def address(text: str) -> Address:
    """Every address as IPv6: an IPv4 address as its mapped form ``::ffff:a.b.c.d``."""
    parsed = ipaddress.ip_address(text)
    return Address(f"::ffff:{parsed}") if parsed.version == 4 else parsed


def network(text: str) -> Network:
    parsed = ipaddress.ip_network(text)
    if parsed.version == 4:
        return Network(f"::ffff:{parsed.network_address}/{96 + parsed.prefixlen}")
    return parsed


def glob(text: str, pattern: str) -> bool:
    # matched[i][j]: the first i characters of pattern match the first j of text.
    matched = [[False] * (len(text) + 1) for _ in range(len(pattern) + 1)]
    matched[0][0] = True
    for i, p in enumerate(pattern, 1):
        matched[i][0] = matched[i - 1][0] and p == "*"
        for j, c in enumerate(text, 1):
            if p == "*":
                matched[i][j] = matched[i - 1][j] or matched[i][j - 1]
            else:
                matched[i][j] = matched[i - 1][j - 1] and (p == "?" or p == c)
    return matched[len(pattern)][len(text)]


def literal(node: ast.Literal) -> object:
    text = node.text[1:-1] if node.text[:1] in "\"'" else node.text
    match node.type.name:
        case "ip":
            return address(text)
        case "cidr":
            return network(text)
        case "time":
            return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    return node.value


def evaluate(node: ast.Expr, env: dict[str, object]) -> object:
    match node:
        case ast.Literal():
            return literal(node)
        case ast.ListExpr(items=items):
            return [evaluate(i, env) for i in items]
        case ast.Path(parts=parts):
            if node.dotted in env:
                return env[node.dotted]
            entries = env[".".join(parts[:-1])]
            assert isinstance(entries, dict)
            return entries.get(parts[-1], "")
        case ast.Call(name=name, args=args):
            values = [evaluate(a, env) for a in args]
            return FUNCTIONS[name](*values)
        case ast.Not(operand=operand):
            return not evaluate(operand, env)
        case ast.BoolOp(op="and", operands=operands):
            return all(evaluate(o, env) for o in operands)
        case ast.BoolOp(op="or", operands=operands):
            return any(evaluate(o, env) for o in operands)
        case ast.Compare(op=op, left=left, right=right):
            a, b = evaluate(left, env), evaluate(right, env)
            return {
                "==": lambda: a == b,
                "!=": lambda: a != b,
                "<": lambda: a < b,  # type: ignore[operator]
                "<=": lambda: a <= b,  # type: ignore[operator]
                ">": lambda: a > b,  # type: ignore[operator]
                ">=": lambda: a >= b,  # type: ignore[operator]
            }[op]()
        case ast.Membership(negated=negated, left=left, right=right):
            return member(evaluate(left, env), evaluate(right, env)) != negated
        case ast.Matches(left=left, right=right):
            return glob(str(evaluate(left, env)), str(evaluate(right, env)))
        case ast.Arith(operands=operands, ops=ops):
            total = evaluate(operands[0], env)
            for op, operand in zip(ops, operands[1:], strict=True):
                value = evaluate(operand, env)
                total = total + value if op == "+" else total - value  # type: ignore[operator]
            return total
    raise TypeError(node)


def member(value: object, container: object) -> bool:
    if isinstance(container, Network):
        return value in container
    if isinstance(container, str):
        return str(value) in container
    assert isinstance(container, list)
    for item in container:
        if isinstance(item, Network) and value in item:
            return True
        if not isinstance(item, Network) and value == item:
            return True
    return False


def _day(t: object) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(seconds=float(t))  # type: ignore[arg-type]


FUNCTIONS = {
    "len": len,
    "lower": str.lower,
    "upper": str.upper,
    "startswith": str.startswith,
    "endswith": str.endswith,
    "hour": lambda t: _day(t).hour,
    "weekday": lambda t: ("mon", "tue", "wed", "thu", "fri", "sat", "sun")[_day(t).weekday()],
    "is_ipv4": lambda a: a in network("0.0.0.0/0"),
}


def environment(key: KeyRecord, request: dict[str, object]) -> dict[str, object]:
    """What conditions read, from a key and a request given as plain values."""
    return {
        "key.id": key.id,
        "key.type": key.type,
        "key.label": key.label,
        "key.environment": key.environment,
        "key.scopes": list(key.scopes),
        "key.allowed_ips": [network(n) for n in key.allowed_ips],
        "key.created_at": key.created_at.timestamp(),
        "key.expires_at": (key.expires_at or NEVER).timestamp(),
        "key.metadata": dict(key.metadata),
        **request,
    }


def rule_matches(rule: Rule, env: dict[str, object]) -> bool:
    when = rule.when is None or evaluate(rule.when.tree, env)
    unless = rule.unless is not None and evaluate(rule.unless.tree, env)
    return bool(when) and not unless


def decide(
    policy: PolicySet,
    key: KeyRecord,
    request: dict[str, object],
    environment_name: str,
    now: datetime,
    any_key: bool = False,
) -> tuple[str, str | None]:
    """The decision code and the deciding rule's name, straight from the semantics."""
    if key.revoked_at is not None and key.revoked_at <= now:
        return "REVOKED", None
    if key.disabled:
        return "DISABLED", None
    if key.expires_at is not None and key.expires_at <= now:
        return "EXPIRED", None
    if key.environment != environment_name:
        return "WRONG_ENVIRONMENT", None
    ip = request["request.ip"]
    if key.allowed_ips and not any(ip in network(n) for n in key.allowed_ips):
        return "IP_NOT_ALLOWED", None
    resource, instance, action = (
        request["resource.type"],
        request["resource.id"],
        request["request.action"],
    )
    key_type = policy.key_types.get(key.type)
    if key_type is None:
        return "INSUFFICIENT_SCOPE", "scope"
    if key_type.scopes is not None:
        scopes = list(key_type.scopes)
    else:
        scopes = [
            parse_scope(s)
            for s in key.scopes
            if any(a.covers(parse_scope(s)) for a in key_type.allowed_scopes)
        ]
    granted = any_key or any(s.grants(resource, instance, action) for s in scopes)  # type: ignore[arg-type]
    applicable = [
        r
        for r in policy.rules
        if ("*" in r.resources or resource in r.resources)
        and ("*" in r.actions or action in r.actions)
        and (not r.key_types or key.type in r.key_types)
    ]
    env = environment(key, request)
    if not granted and not any(rule_matches(r, env) for r in applicable if r.effect == "allow"):
        return "INSUFFICIENT_SCOPE", "scope"
    denied = [r for r in applicable if r.effect == "deny" and rule_matches(r, env)]
    for code in ("IP_NOT_ALLOWED", "DENIED_BY_POLICY"):
        for rule in denied:
            if rule.code == code:
                return rule.code, rule.name
    return "OK", None
