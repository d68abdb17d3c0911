"""The steps of a check after the key is found: state → environment → IP → scope and
rules. Pure functions of the prepared policy set, the key and the request, shared by the
engine and by policy tests."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType

from policyengine.context import Context
from policyengine.decision import NO_HEADERS, STEPS, Code, Decision, KeyRef, RuleRef, Step
from policyengine.errors import InvalidValue
from policyengine.net import Proxies, client_address, format_ip
from policyengine.policy.prepared import PreparedPolicy
from policyengine.policy.routes import RouteMatch
from policyengine.record import KeyRecord
from policyengine.request import Request, path_problem

#: The address of a request that gave none: it lies in no network.
UNKNOWN_ADDRESS = -1

_NO_HEADERS: Mapping[str, str] = MappingProxyType({})
_STATE_CODES = {"revoked": Code.REVOKED, "disabled": Code.DISABLED, "expired": Code.EXPIRED}


def deny(
    code: Code,
    step: str,
    reason: str,
    key: KeyRecord | None = None,
    rule: RuleRef | None = None,
    error: str | None = None,
) -> Decision:
    if rule is None:
        rule = _STEP_RULES[step]  # every step that denies is one of them
    ref = key_ref(key) if key is not None else None
    return Decision(False, code, reason, step, rule, ref, NO_HEADERS, None, error)


#: A step as the rule that decided: the same (frozen) reference for every denial.
_STEP_RULES = {step: RuleRef(step) for step in (*STEPS, "policy", "engine")}


_KEY_REFS: dict[str, KeyRef] = {}


def key_ref(key: KeyRecord) -> KeyRef:
    # A key's type and environment never change and its expiry seldom does, so its
    # reference is made once per expiry (compared by identity: a record read again from
    # the store makes a new one, no more often than the lookup cache expires). The table
    # is the process's: a record of another store under the same id is told apart too.
    ref = _KEY_REFS.get(key.id)
    if (
        ref is None
        or ref.expires_at is not key.expires_at
        or ref.type != key.type
        or ref.environment != key.environment
    ):
        if len(_KEY_REFS) >= 65536:
            _KEY_REFS.clear()
        ref = _KEY_REFS[key.id] = KeyRef(key.id, key.type, key.environment, key.expires_at)
    return ref


@dataclass(slots=True)
class Resolved:
    """A request as conditions see it, and what is already wrong with it, if anything:
    a problem is reported at its own step, after the steps before it have passed."""

    ctx: Context
    route: RouteMatch | None
    problem: Decision | None = None

    @property
    def any_key(self) -> bool:
        return self.route is not None and self.route.route.any_key


def resolve(
    prepared: PreparedPolicy,
    request: Request,
    now: float,
    proxies: Proxies,
    credential_type: str = "key",
) -> Resolved:
    # Headers are read only for declared names and behind trusted proxies; most checks
    # need neither, so the case-folded copy is made only when one of them does.
    headers: Mapping[str, str] = (
        {k.lower(): v for k, v in request.headers.items()}
        if request.headers and (prepared.headers or proxies)
        else _NO_HEADERS
    )
    problem = None
    ip = UNKNOWN_ADDRESS
    if request.ip is not None:
        try:
            ip = client_address(request.ip, headers, proxies)
        except InvalidValue as error:
            problem = deny(Code.IP_NOT_ALLOWED, "ip", f"the client address is malformed: {error}")
    declared = (
        {name: headers[name] for name in prepared.headers if name in headers}
        if prepared.headers and headers
        else _NO_HEADERS
    )
    match = None
    resource = action = instance = ""
    path = request.path
    refused = path_problem(path) if path is not None else None
    if refused is not None:
        assert path is not None
        shown = path if len(path) <= 100 else path[:100] + "…"
        problem = problem or deny(
            Code.DENIED_BY_POLICY,
            "scope",
            f"the path {shown!r} is refused: {refused}",
            rule=RuleRef("path"),
        )
    elif request.resource is not None and request.action is not None:
        resource, _, instance = request.resource.partition("/")
        action = request.action
    elif request.method is not None and path is not None:
        match = prepared.route(request.method, path)
        if match is None:
            problem = problem or deny(
                Code.DENIED_BY_POLICY,
                "scope",
                f"no route in the policies matches {request.method.upper()} {path}",
                rule=RuleRef("routes"),
            )
        else:
            resource, instance, action = match.route.resource, match.instance, match.route.action
    else:
        problem = problem or deny(
            Code.DENIED_BY_POLICY,
            "scope",
            "the request names neither a method and path nor a resource and action",
            rule=RuleRef("routes"),
        )
    # Positional arguments: on the hot path, keywords cost twice as much.
    ctx = Context(
        ip,
        now,
        resource,
        action,
        instance,
        request.method.upper() if request.method else "",
        path or "",
        credential_type,
        declared,
    )
    return Resolved(ctx, match, problem)


def judge(
    prepared: PreparedPolicy,
    key: KeyRecord,
    resolved: Resolved,
    environment: str | None,
    now: datetime,
    token_scopes: tuple[str, ...] | None = None,
    explain: bool = False,
) -> Decision:
    """The steps from the key's state to the rules; the first that fails decides."""
    trace: list[Step] | None = [] if explain else None
    ctx, problem = resolved.ctx, resolved.problem
    state = key.state(now)
    if state in _STATE_CODES:
        return _end(deny(_STATE_CODES[state], "state", f"the key is {state}", key), trace)
    _note(trace, "state", f"the key is {state}")
    if environment is not None and key.environment != environment:
        reason = f"a {key.environment} key cannot be used in the {environment} environment"
        return _end(deny(Code.WRONG_ENVIRONMENT, "environment", reason, key), trace)
    _note(trace, "environment", f"{key.environment} key in the {environment or 'any'} environment")
    if problem is not None and problem.step == "ip":
        problem.key = key_ref(key)
        return _end(problem, trace)
    if key.networks and ctx.ip not in key.networks:
        shown = format_ip(ctx.ip) if ctx.ip >= 0 else "an unknown address"
        reason = f"{shown} is outside the networks this key is restricted to"
        return _end(deny(Code.IP_NOT_ALLOWED, "ip", reason, key), trace)
    _note(trace, "ip", "within the key's networks" if key.networks else "the key is not restricted")
    if problem is not None:
        problem.key = key_ref(key)
        return _end(problem, trace)
    if trace is not None:
        verdict, steps, _, _ = prepared.explain(key, ctx, token_scopes, resolved.any_key)
        trace.extend(steps)
    else:
        verdict = prepared.authorize(key, ctx, token_scopes, resolved.any_key)
    return _end(
        Decision(
            verdict.allowed,
            verdict.code,
            verdict.reason,
            verdict.step,
            verdict.rule,
            key_ref(key),
            NO_HEADERS,
            None,
            verdict.error,
        ),
        trace,
        record=False,
    )


def _note(trace: list[Step] | None, step: str, detail: str) -> None:
    if trace is not None:
        trace.append(Step(step, True, detail))


def _end(decision: Decision, trace: list[Step] | None, record: bool = True) -> Decision:
    if trace is None:
        return decision
    if record:
        trace.append(Step(decision.step, decision.allowed, decision.reason))
    decision.trace = tuple(trace)
    return decision
