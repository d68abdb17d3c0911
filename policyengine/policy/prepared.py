"""The prepared policy set: compiled once, asked one question per request.

``authorize`` answers the scope and rule steps of the pipeline. The rules that can apply
to a key type, scope set, resource and action are found once and kept in a plan, so a
request evaluates only their conditions, and when there are none its answer is a
ready-made verdict: a dictionary lookup.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from policyengine.context import Context
from policyengine.decision import Code, RuleRef, Step
from policyengine.language.ast import paths
from policyengine.language.compiler import Predicate, compile_predicate
from policyengine.policy.coverage import Coverage
from policyengine.policy.model import KeyType, PolicySet, RateLimit, Rule
from policyengine.policy.routes import RouteMatch, RouteTable
from policyengine.policy.scopes import Scope, parse_scope
from policyengine.record import KeyRecord, Usage

#: Plans kept at most; past it the table starts again (each plan is cheap to rebuild).
MAX_PLANS = 65536


@dataclass(frozen=True, slots=True)
class Verdict:
    """The answer of the scope and rule steps."""

    code: Code
    step: str
    reason: str
    rule: RuleRef | None = None
    error: str | None = None

    @property
    def allowed(self) -> bool:
        return self.code is Code.OK


#: What a condition may read of a request and still answer alike for every request with
#: the same key record, method, path, resource, action, address and credential: all but
#: the time and the headers (and any attribute added later, until it is listed here).
STEADY_REQUEST_ATTRIBUTES = frozenset(
    {
        "request.ip",
        "request.method",
        "request.path",
        "request.action",
        "request.credential",
        "resource.type",
        "resource.id",
    }
)


@dataclass(frozen=True, slots=True)
class CompiledRule:
    rule: Rule
    test: Predicate
    ref: RuleRef
    verdict: Verdict
    #: Whether its conditions read only the key and :data:`STEADY_REQUEST_ATTRIBUTES`.
    steady: bool = False


@dataclass(frozen=True, slots=True)
class Plan:
    """What can decide for one key type, scope set, resource and action."""

    granted: bool
    #: Instances that instance-scoped grants (``events/evt_42:read``) allow.
    instances: frozenset[str]
    allow: tuple[CompiledRule, ...]
    deny: tuple[CompiledRule, ...]
    no_scope: Verdict
    ok: Verdict
    #: The answer, when it needs no condition and no instance: most requests.
    fixed: Verdict | None = field(default=None)
    #: Whether the answer depends on nothing but what :data:`STEADY_REQUEST_ATTRIBUTES`
    #: and the key say (it always does when it is ``fixed``).
    steady: bool = False


class PreparedPolicy:
    def __init__(self, policy: PolicySet, coverage: Coverage | None = None) -> None:
        self.policy = policy
        self.digest = policy.digest
        self.key_types: dict[str, KeyType] = dict(policy.key_types)
        self.routes = RouteTable(policy.routes)
        self.headers = frozenset(policy.headers)
        self._rules = tuple(_compile(rule, coverage) for rule in policy.rules)
        # Coverage counts every evaluation: no answer of an instrumented set is steady.
        self._instrumented = coverage is not None
        # Which rules name each resource ("*" for any), in file order: a plan reads the
        # rules of its resource, not every rule.
        self._by_resource: dict[str, list[CompiledRule]] = {}
        for compiled in self._rules:
            for name in dict.fromkeys(compiled.rule.resources):
                self._by_resource.setdefault(name, []).append(compiled)
        self._order = {id(compiled): index for index, compiled in enumerate(self._rules)}
        self._plans: dict[tuple[object, ...], Plan] = {}
        #: Per key version, the limits in force: kept here so that a reload starts afresh.
        self.limit_sets: dict[tuple[str, int], tuple[tuple[RateLimit, ...], Usage | None]] = {}
        #: Answers of the steps before the limits, kept by :mod:`policyengine.judged`.
        self.judgements: dict[tuple[object, ...], Any] = {}

    def limits_for(self, key: KeyRecord) -> tuple[tuple[RateLimit, ...], Usage | None]:
        """The limits and credits in force for ``key``: its type's, with its own overrides;
        worked out once per key version (and afresh after a reload)."""
        cache_key = (key.id, key.revision)
        found = self.limit_sets.get(cache_key)
        if found is None:
            key_type = self.key_types.get(key.type)
            if key_type is None:
                return (), None
            found = (merge_limits(key_type.rate_limits, key), key.usage or key_type.usage)
            if len(self.limit_sets) >= MAX_PLANS:
                self.limit_sets.clear()
            self.limit_sets[cache_key] = found
        return found

    def route(self, method: str, path: str) -> RouteMatch | None:
        return self.routes.match(method, path)

    def authorize(
        self,
        key: KeyRecord,
        ctx: Context,
        token_scopes: tuple[str, ...] | None = None,
        any_key: bool = False,
    ) -> Verdict:
        """Scope, then rules: deny overrides allow, and nothing is allowed by default."""
        cache_key = (key.type, key.scopes, token_scopes, ctx.resource, ctx.action, any_key)
        plan = self._plans.get(cache_key)
        if plan is None:
            plan = self._plan(key, token_scopes, ctx.resource, ctx.action, any_key)
            if len(self._plans) >= MAX_PLANS:
                self._plans.clear()
            self._plans[cache_key] = plan
        if plan.fixed is not None:
            return plan.fixed
        granted = plan.granted or ctx.resource_id in plan.instances
        denied = None
        allowed_by = None
        try:
            if not granted:
                # Every applicable rule is evaluated, so that an error in any of them
                # denies whatever the order of the rules; the first that matched allows.
                for current in plan.allow:
                    if current.test(key, ctx) and allowed_by is None:
                        allowed_by = current
                if allowed_by is None:
                    return plan.no_scope
            for current in plan.deny:
                if current.test(key, ctx) and denied is None:
                    denied = current
        except Exception as error:  # any error in a rule denies
            # Only a rule's test can raise here, so `current` is the rule that failed.
            return _failed(current, error)
        if denied is not None:
            return denied.verdict
        return allowed_by.verdict if allowed_by is not None else plan.ok

    def is_steady(
        self,
        key: KeyRecord,
        token_scopes: tuple[str, ...] | None,
        resource: str,
        action: str,
        any_key: bool,
    ) -> bool:
        """Whether :meth:`authorize` answers alike for every request with this key record
        and the same :data:`STEADY_REQUEST_ATTRIBUTES` (false when the plan is unknown)."""
        plan = self._plans.get((key.type, key.scopes, token_scopes, resource, action, any_key))
        return plan is not None and plan.steady

    def _plan(
        self,
        key: KeyRecord,
        token_scopes: tuple[str, ...] | None,
        resource: str,
        action: str,
        any_key: bool,
    ) -> Plan:
        key_type = self.key_types.get(key.type)
        applicable = self._applicable(key.type, resource, action)
        allow = tuple(r for r in applicable if r.rule.effect == "allow")
        # A deny rule about networks answers for the IP step, which comes before the
        # rules: among matching deny rules it decides, whatever their order.
        deny = tuple(
            sorted(
                (r for r in applicable if r.rule.effect == "deny"),
                key=lambda r: r.rule.code != "IP_NOT_ALLOWED",
            )
        )
        grants = self.grants(key, key_type, token_scopes)
        granted = any_key or any(s.instance is None and _grant(s, resource, action) for s in grants)
        instances = frozenset(
            s.instance for s in grants if s.instance is not None and _grant(s, resource, action)
        )
        target = f"{resource}:{action}"
        ok = Verdict(Code.OK, "done", f"{target} is granted", _granted_by(key, key_type, any_key))
        if key_type is None:
            why = f"the key type '{key.type}' is not in the policies"
        elif token_scopes is not None and any(
            _grant(s, resource, action) for s in self.grants(key, key_type, None)
        ):
            # The key could, its token may not: say which one lacks the scope.
            why = f"no scope of this token grants {target} (its {key.type} key's would)"
        else:
            why = f"no scope of this {key.type} key grants {target}"
        no_scope = Verdict(Code.INSUFFICIENT_SCOPE, "scope", why, RuleRef("scope"))
        fixed = None
        if key_type is None:
            fixed = no_scope
        elif granted and not deny:
            fixed = ok
        elif not granted and not instances and not allow:
            fixed = no_scope
        steady = fixed is not None or (
            not self._instrumented and all(r.steady for r in (*allow, *deny))
        )
        return Plan(granted, instances, allow, deny, no_scope, ok, fixed, steady)

    def _applicable(self, key_type: str, resource: str, action: str) -> list[CompiledRule]:
        """The rules that apply, in the order they were written."""
        named = self._by_resource.get(resource, [])
        anything = self._by_resource.get("*", []) if resource != "*" else []
        candidates = named or anything
        if named and anything:  # a rule may name both: each once, in file order
            unique = {id(compiled): compiled for compiled in (*named, *anything)}
            candidates = sorted(unique.values(), key=lambda compiled: self._order[id(compiled)])
        return [r for r in candidates if r.rule.applies_to(key_type, resource, action)]

    def grants(
        self,
        key: KeyRecord,
        key_type: KeyType | None,
        token_scopes: tuple[str, ...] | None = None,
    ) -> list[Scope]:
        """The scopes in force: the type's, or the key's own within the type's allowance,
        narrowed further by a token's."""
        if key_type is None:
            return []
        if key_type.scopes is not None:
            grants = list(key_type.scopes)
        else:
            own = [_parse(s) for s in key.scopes]
            grants = [
                s
                for s in own
                if s is not None and any(a.covers(s) for a in key_type.allowed_scopes)
            ]
        if token_scopes is not None:
            narrowed = [_parse(s) for s in token_scopes]
            grants = [t for t in narrowed if t is not None and any(g.covers(t) for g in grants)]
        return grants

    def explain(
        self,
        key: KeyRecord,
        ctx: Context,
        token_scopes: tuple[str, ...] | None = None,
        any_key: bool = False,
    ) -> tuple[Verdict, list[Step], Scope | None, list[Rule]]:
        """The same answer as :meth:`authorize`, with every step that led to it, the scope
        that granted and the rules that matched."""
        verdict = self.authorize(key, ctx, token_scopes, any_key)
        key_type = self.key_types.get(key.type)
        grants = self.grants(key, key_type, token_scopes)
        target = f"{ctx.resource}{'/' + ctx.resource_id if ctx.resource_id else ''}:{ctx.action}"
        scope = next(
            (s for s in grants if s.grants(ctx.resource, ctx.resource_id, ctx.action)), None
        )
        steps = []
        if any_key:
            steps.append(Step("scope", True, "any valid key may call this route"))
        elif scope is not None:
            steps.append(Step("scope", True, f"scope {scope} grants {target}"))
        else:
            steps.append(Step("scope", False, f"no scope grants {target}"))
        matched: list[Rule] = []
        granted = scope is not None or any_key
        applicable = self._applicable(key.type, ctx.resource, ctx.action)
        # The same rules as authorize, in the same order: allow rules only when no scope
        # grants, deny rules only once something has granted.
        if not granted:
            for compiled in (c for c in applicable if c.rule.effect == "allow"):
                if self._step(compiled, key, ctx, steps):
                    matched.append(compiled.rule)
                    granted = True
        if granted:
            for compiled in (c for c in applicable if c.rule.effect == "deny"):
                if self._step(compiled, key, ctx, steps):
                    matched.append(compiled.rule)
        return verdict, steps, scope, matched

    @staticmethod
    def _step(compiled: CompiledRule, key: KeyRecord, ctx: Context, steps: list[Step]) -> bool:
        """Evaluate one rule for an explanation, noting the outcome as a step."""
        rule = compiled.rule
        try:
            hit = compiled.test(key, ctx)
        except Exception as error:  # shown; the verdict denies
            steps.append(Step("rules", False, f"{compiled.ref} failed: {error}"))
            return False
        verb = "matched" if hit else "did not match"
        passed = not hit if rule.effect == "deny" else hit
        steps.append(Step("rules", passed, f"{rule.effect} rule {compiled.ref} {verb}"))
        return hit


def merge_limits(limits: Sequence[RateLimit], key: KeyRecord) -> tuple[RateLimit, ...]:
    """A key's own rates replace its type's limits of the same name, keeping what an
    outage means for them; new names are added, and fail closed."""
    merged = [
        replace(limit, rate=key.rate_limits[limit.name]) if limit.name in key.rate_limits else limit
        for limit in limits
    ]
    known = {limit.name for limit in limits}
    merged += [RateLimit(name, rate) for name, rate in key.rate_limits.items() if name not in known]
    return tuple(merged)


def _granted_by(key: KeyRecord, key_type: KeyType | None, any_key: bool) -> RuleRef | None:
    """What lets a request in when no allow rule had to: the route, or the key type whose
    scopes (or allowance, for a key with its own scopes) grant it."""
    if any_key:
        return RuleRef("any-key route")
    if key_type is None:
        return None
    if key_type.from_key:
        return RuleRef(f"the key's own scopes, within key type '{key.type}'", key_type.location)
    return RuleRef(f"the scopes of key type '{key.type}'", key_type.location)


def _parse(text: str) -> Scope | None:
    try:
        return parse_scope(text)
    except ValueError:
        return None


def _grant(scope: Scope, resource: str, action: str) -> bool:
    return (scope.resource in ("*", resource)) and (scope.action in ("*", action))


def _compile(rule: Rule, coverage: Coverage | None) -> CompiledRule:
    probes = (
        coverage.probe(rule.when) if coverage and rule.when else None,
        coverage.probe(rule.unless) if coverage and rule.unless else None,
    )
    test = compile_predicate(
        rule.when.tree if rule.when else None,
        rule.unless.tree if rule.unless else None,
        rule.name,
        probes,
    )
    ref = RuleRef(rule.name, rule.location)
    # An allow rule's verdict is the decision when it, not a scope, let the request in.
    verdict = (
        Verdict(Code.OK, "done", rule.reason, ref)
        if rule.effect == "allow"
        else Verdict(Code(rule.code), "rules", rule.reason, ref)
    )
    read = [p for c in (rule.when, rule.unless) if c is not None for p in paths(c.tree)]
    steady = all(p.parts[0] == "key" or p.dotted in STEADY_REQUEST_ATTRIBUTES for p in read)
    return CompiledRule(rule, test, ref, verdict, steady)


def _failed(rule: CompiledRule, error: Exception) -> Verdict:
    return Verdict(
        Code.UNAVAILABLE,
        "rules",
        f"the policy could not be evaluated: {rule.ref} failed",
        rule.ref,
        f"{type(error).__name__}: {error}",
    )
