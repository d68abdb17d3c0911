"""The compiled policy set against the reference interpreter, and the algebra of rules."""

from __future__ import annotations

import os
from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st
from reference import address, decide, environment, rule_matches
from strategies import BASE, examples, keys, policy_sets, requests, rules

from policyengine.context import Context
from policyengine.net import parse_ip
from policyengine.pipeline import Resolved, judge
from policyengine.policy.model import PolicySet
from policyengine.policy.prepared import PreparedPolicy
from policyengine.record import KeyRecord


def reference_request(request: dict[str, object]) -> dict[str, object]:
    return {**request, "request.ip": address(str(request["request.ip"]))}


def context(request: dict[str, object]) -> Context:
    return Context(
        ip=parse_ip(str(request["request.ip"])),
        time=float(request["request.time"]),  # type: ignore[arg-type]
        resource=str(request["resource.type"]),
        action=str(request["request.action"]),
        resource_id=str(request["resource.id"]),
        method=str(request["request.method"]),
        path=str(request["request.path"]),
        credential_type="key",
        headers=request["request.headers"],  # type: ignore[arg-type]
    )


def compiled(
    prepared: PreparedPolicy, key: KeyRecord, request: dict[str, object]
) -> tuple[str, str | None]:
    decision = judge(prepared, key, Resolved(context(request), None), "live", BASE)
    rule = decision.rule.name if decision.rule and decision.step in ("scope", "rules") else None
    return decision.code.value, rule


#: The algebraic properties are cheaper to trust than the differential test: fewer examples.
PROPERTY = settings(max_examples=examples(200 if os.environ.get("CI") else 50))

asked = st.lists(st.tuples(keys(), requests()), min_size=1, max_size=4)


@given(policy=policy_sets(), cases=asked)
def test_compiled_decisions_equal_the_reference_cold_and_warm(policy: PolicySet, cases) -> None:
    warm = PreparedPolicy(policy)
    for key, request in cases:
        expected = decide(policy, key, reference_request(request), "live", BASE)
        assert compiled(PreparedPolicy(policy), key, request) == expected
        assert compiled(warm, key, request) == expected
        assert compiled(warm, key, request) == expected


def permitted(policy: PolicySet, key: KeyRecord, request: dict[str, object]) -> bool:
    return compiled(PreparedPolicy(policy), key, request)[0] == "OK"


@PROPERTY
@given(policy=policy_sets(), key=keys(), request=requests())
def test_without_a_granting_scope_or_matching_allow_rule_nothing_is_allowed(
    policy, key, request
) -> None:
    ref = reference_request(request)
    env = environment(key, ref)
    prepared = PreparedPolicy(policy)
    verdict_scope = prepared.explain(key, context(request))[2]
    allow_matches = any(
        r.effect == "allow"
        and r.applies_to(key.type, str(request["resource.type"]), str(request["request.action"]))
        and rule_matches(r, env)
        for r in policy.rules
    )
    if verdict_scope is None and not allow_matches:
        assert not permitted(policy, key, request)


@PROPERTY
@given(policy=policy_sets(), key=keys(), request=requests())
def test_a_matching_deny_rule_beats_any_allow(policy, key, request) -> None:
    env = environment(key, reference_request(request))
    denied = any(
        r.effect == "deny"
        and r.applies_to(key.type, str(request["resource.type"]), str(request["request.action"]))
        and rule_matches(r, env)
        for r in policy.rules
    )
    if denied:
        assert not permitted(policy, key, request)


@PROPERTY
@given(
    policy=policy_sets(),
    key=keys(),
    request=requests(),
    seed=st.randoms(),
    copies=st.integers(0, 3),
)
def test_order_and_duplicates_of_rules_do_not_change_the_decision(
    policy, key, request, seed, copies
) -> None:
    shuffled = list(policy.rules)
    seed.shuffle(shuffled)
    duplicates = [replace(r, name=f"{r.name}-copy") for r in shuffled[:copies]]
    reordered = replace(policy, rules=tuple(shuffled + duplicates))
    before = compiled(PreparedPolicy(policy), key, request)[0]
    after = compiled(PreparedPolicy(reordered), key, request)[0]
    assert before == after


@PROPERTY
@given(policy=policy_sets(), extra=rules("added"), key=keys(), request=requests())
def test_adding_an_allow_never_turns_allow_into_deny(policy, extra, key, request) -> None:
    if permitted(policy, key, request):
        allow = replace(extra, effect="allow", code="DENIED_BY_POLICY")
        assert permitted(replace(policy, rules=(*policy.rules, allow)), key, request)


@PROPERTY
@given(policy=policy_sets(), extra=rules("added"), key=keys(), request=requests())
def test_adding_a_deny_never_turns_deny_into_allow(policy, extra, key, request) -> None:
    if not permitted(policy, key, request):
        deny = replace(extra, effect="deny")
        assert not permitted(replace(policy, rules=(*policy.rules, deny)), key, request)


@settings(max_examples=examples(200), deadline=None)
@given(
    policy=policy_sets(max_rules=8),
    key_type=st.sampled_from(["fixed", "everything", "own", "unknown"]),
    resource=st.sampled_from(["events", "tasks", "hooks", "*", "nothing"]),
    action=st.sampled_from(["read", "write", "delete", "trigger", "*"]),
    widen=st.lists(st.booleans(), max_size=8),
)
def test_a_plan_reads_the_rules_a_scan_of_every_rule_finds(
    policy: PolicySet, key_type: str, resource: str, action: str, widen: list[bool]
) -> None:
    # Plans find their rules through an index by resource; they must be the very rules,
    # in the very order, that reading every rule finds; a rule may name a resource and "*".
    rules = tuple(
        replace(rule, resources=(*rule.resources, "*", "events"))
        if wide and "*" not in rule.resources
        else rule
        for rule, wide in zip(policy.rules, widen + [False] * len(policy.rules), strict=False)
    )
    prepared = PreparedPolicy(replace(policy, rules=rules))
    scanned = [r for r in prepared._rules if r.rule.applies_to(key_type, resource, action)]
    found = prepared._applicable(key_type, resource, action)
    assert [id(r) for r in found] == [id(r) for r in scanned]
