"""The check pipeline: credential → key → state → environment → IP → scope and rules →
usage → rate. The first step that fails decides; an error anywhere denies."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from policyengine.context import Context
from policyengine.decision import Code, Decision, KeyRef, RuleRef, Step
from policyengine.errors import InvalidValue
from policyengine.keys.record import KeyRecord
from policyengine.net import NetworkSet, client_address, format_ip
from policyengine.policy.prepared import PreparedPolicy
from policyengine.policy.routes import RouteMatch
from policyengine.request import Request

#: The address of a request that gave none: it lies in no network.
UNKNOWN_ADDRESS = -1


def deny(
    code: Code, step: str, reason: str, key: KeyRecord | None = None, **extra: object
) -> Decision:
    return Decision(
        allowed=False,
        code=code,
        reason=reason,
        step=step,
        rule=extra.pop("rule", None) or RuleRef(step),  # type: ignore[arg-type]
        key=_ref(key) if key is not None else None,
        **extra,  # type: ignore[arg-type]
    )


def _ref(key: KeyRecord) -> KeyRef:
    return KeyRef(key.id, key.type, key.environment)


def resolve(
    prepared: PreparedPolicy,
    request: Request,
    now: float,
    trusted_proxies: NetworkSet,
    credential_type: str = "key",
) -> tuple[Context, RouteMatch | None] | Decision:
    """The request as conditions see it: its route, client address and declared headers."""
    headers: Mapping[str, str] = {k.lower(): v for k, v in request.headers.items()}
    if request.ip is None:
        ip = UNKNOWN_ADDRESS
    else:
        try:
            ip = client_address(request.ip, headers, trusted_proxies)
        except InvalidValue as error:
            return deny(Code.IP_NOT_ALLOWED, "ip", f"the client address is malformed: {error}")
    declared = {name: headers[name] for name in prepared.headers if name in headers}
    match = None
    if request.resource is not None and request.action is not None:
        resource, _, instance = request.resource.partition("/")
        action = request.action
    elif request.method is not None and request.path is not None:
        path = request.path.partition("?")[0]
        match = prepared.route(request.method, path)
        if match is None:
            return deny(
                Code.DENIED_BY_POLICY,
                "scope",
                f"no route in the policies matches {request.method.upper()} {path}",
                rule=RuleRef("routes"),
            )
        resource, instance, action = match.route.resource, match.instance, match.route.action
    else:
        return deny(
            Code.DENIED_BY_POLICY,
            "scope",
            "the request names neither a method and path nor a resource and action",
            rule=RuleRef("routes"),
        )
    ctx = Context(
        ip=ip,
        time=now,
        resource=resource,
        action=action,
        resource_id=instance,
        method=(request.method or "").upper(),
        path=(request.path or "").partition("?")[0],
        credential_type=credential_type,
        headers=declared,
    )
    return ctx, match


def judge(
    prepared: PreparedPolicy,
    key: KeyRecord,
    ctx: Context,
    environment: str | None,
    now: datetime,
    *,
    any_key: bool = False,
    token_scopes: tuple[str, ...] | None = None,
    explain: bool = False,
) -> Decision:
    """The steps from the key's state to the rules, for a key already found."""
    trace: list[Step] | None = [] if explain else None
    state = key.state(now)
    if state in ("revoked", "disabled", "expired"):
        code = {"revoked": Code.REVOKED, "disabled": Code.DISABLED, "expired": Code.EXPIRED}[state]
        return _end(
            deny(code, "state", f"the key is {state}", key), trace, Step("state", False, state)
        )
    if trace is not None:
        trace.append(Step("state", True, state))
    if environment is not None and key.environment != environment:
        reason = f"a {key.environment} key cannot be used against the {environment} environment"
        return _end(
            deny(Code.WRONG_ENVIRONMENT, "environment", reason, key),
            trace,
            Step("environment", False, reason),
        )
    if trace is not None:
        trace.append(
            Step("environment", True, f"{key.environment} key, {environment or 'any'} environment")
        )
    if key.networks and ctx.ip not in key.networks:
        shown = format_ip(ctx.ip) if ctx.ip >= 0 else "an unknown address"
        reason = f"{shown} is outside the key's allowed networks"
        return _end(deny(Code.IP_NOT_ALLOWED, "ip", reason, key), trace, Step("ip", False, reason))
    if trace is not None:
        trace.append(
            Step(
                "ip",
                True,
                "address within the key's networks" if key.networks else "key not restricted",
            )
        )
        verdict, steps, _, _ = prepared.explain(key, ctx, token_scopes, any_key)
        trace.extend(steps)
    else:
        verdict = prepared.authorize(key, ctx, token_scopes, any_key)
    if not verdict.allowed:
        return _end(
            Decision(
                allowed=False,
                code=verdict.code,
                reason=verdict.reason,
                step=verdict.step,
                rule=verdict.rule,
                key=_ref(key),
                error=verdict.error,
            ),
            trace,
            None,
        )
    return _end(
        Decision(
            allowed=True,
            code=Code.OK,
            reason=verdict.reason,
            step="done",
            rule=verdict.rule,
            key=_ref(key),
        ),
        trace,
        None,
    )


def _end(decision: Decision, trace: list[Step] | None, step: Step | None) -> Decision:
    if trace is None:
        return decision
    if step is not None:
        trace.append(step)
    from dataclasses import replace

    return replace(decision, trace=tuple(trace))
