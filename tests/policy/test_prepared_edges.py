"""The prepared policy set at its edges: a rule that raises, the plan's reference for what
granted, instance scopes, tokens in explanations, which answers are steady, a key's limits."""

from __future__ import annotations

from dataclasses import replace

import pytest
from strategies import BASE, KEY_TYPES, RESOURCES, condition
from test_differential import context
from test_regressions import REQUEST

from policyengine.decision import Code, Step
from policyengine.errors import Location
from policyengine.policy.coverage import Coverage
from policyengine.policy.model import PolicySet, RateLimit, Rule
from policyengine.policy.prepared import CompiledRule, PreparedPolicy
from policyengine.record import KeyRecord, Usage
from policyengine.units import Rate

WRITERS = Rule(
    name="writers",
    effect="allow",
    reason="posts may write",
    resources=("events",),
    actions=("write",),
    when=condition('request.method == "POST" and key.environment == "live"'),
)
LABELLED = Rule(
    name="labelled",
    effect="deny",
    reason="not this key",
    resources=("events",),
    key_types=("everything",),
    when=condition('key.label == "explained"'),
)
STEADY_RULE = 'key.label == "explained" and request.method == "PUT"'
POLICY = PolicySet(
    key_types=KEY_TYPES, rules=(WRITERS, LABELLED), resources=RESOURCES, headers=("x-team",)
)


def key(key_type: str, *scopes: str, **fields: object) -> KeyRecord:
    return KeyRecord(
        id="key_e1",
        type=key_type,
        label="explained",
        environment="live",
        prefix="tdoc_live_",
        last4="abcd",
        created_at=BASE,
        scopes=scopes,
        **fields,  # type: ignore[arg-type]
    )


def ask(method: str, action: str, resource_id: str = "evt_1"):  # type: ignore[no-untyped-def]
    request = {**REQUEST, "request.method": method, "request.action": action}
    return context({**request, "resource.id": resource_id})


def broken(prepared: PreparedPolicy, name: str) -> CompiledRule:
    """``prepared`` with its rule ``name`` raising as a faulty condition would."""

    def fails(key: object, ctx: object) -> bool:
        raise ZeroDivisionError("division by zero")

    index = next(i for i, c in enumerate(prepared._rules) if c.rule.name == name)
    failing = replace(prepared._rules[index], test=fails)
    rules = tuple(failing if i == index else c for i, c in enumerate(prepared._rules))
    prepared._rules = rules
    prepared._by_resource = {"events": list(rules)}
    prepared._order = {id(c): i for i, c in enumerate(rules)}
    return failing


@pytest.mark.parametrize(
    ("name", "key_type", "method"),
    [("writers", "fixed", "POST"), ("labelled", "everything", "PUT")],
)
def test_a_rule_that_raises_denies_naming_the_rule_and_the_error(
    name: str, key_type: str, method: str
) -> None:
    prepared = PreparedPolicy(POLICY)
    failing = broken(prepared, name)
    verdict = prepared.authorize(key(key_type), ask(method, "write"))
    assert not verdict.allowed
    assert (verdict.code, verdict.step) == (Code.UNAVAILABLE, "rules")
    assert verdict.reason == f"the policy could not be evaluated: {failing.ref} failed"
    assert verdict.rule == failing.ref
    assert verdict.error == "ZeroDivisionError: division by zero"


def test_an_explanation_shows_the_rule_that_raised_and_does_not_count_it_as_matched() -> None:
    prepared = PreparedPolicy(POLICY)
    failing = broken(prepared, "writers")
    verdict, steps, scope, matched = prepared.explain(key("fixed"), ask("POST", "write"))
    assert verdict.code is Code.UNAVAILABLE
    assert scope is None
    assert matched == []
    assert steps == [
        Step("scope", False, "no scope grants events/evt_1:write"),
        Step("rules", False, f"{failing.ref} failed: division by zero"),
    ]


def test_an_explanation_evaluates_rules_about_the_key_against_that_key() -> None:
    verdict, steps, scope, matched = PreparedPolicy(POLICY).explain(
        key("everything"), ask("PUT", "write")
    )
    assert (verdict.code, verdict.reason) == (Code.DENIED_BY_POLICY, "not this key")
    assert str(scope) == "*"
    assert matched == [LABELLED]
    assert steps == [
        Step("scope", True, "scope * grants events/evt_1:write"),
        Step("rules", False, "deny rule labelled (<memory>:1) matched"),
    ]
    # Another key type: the rule does not apply, so the explanation does not show it.
    _, steps, _, matched = PreparedPolicy(POLICY).explain(key("fixed"), ask("POST", "write"))
    assert matched == [WRITERS]
    assert [s.detail for s in steps[1:]] == ["allow rule writers (<memory>:1) matched"]


def test_a_key_without_a_scope_is_refused_unless_the_route_takes_any_key() -> None:
    prepared = PreparedPolicy(POLICY)
    refused = prepared.authorize(key("fixed"), ask("GET", "delete"))
    assert (refused.code, refused.step) == (Code.INSUFFICIENT_SCOPE, "scope")
    assert refused.reason == "no scope of this fixed key grants events:delete"
    let_in = prepared.authorize(key("fixed"), ask("GET", "delete"), None, True)
    assert let_in.allowed
    assert let_in.reason == "events:delete is granted"
    assert let_in.rule is not None
    assert let_in.rule.name == "any-key route"


def test_a_granted_request_names_what_granted_it_and_where_it_is_written() -> None:
    written = {
        name: replace(key_type, location=Location("keys.yaml", line, 3))
        for line, (name, key_type) in enumerate(KEY_TYPES.items(), start=4)
    }
    prepared = PreparedPolicy(replace(POLICY, key_types=written))
    typed = prepared.authorize(key("fixed"), ask("GET", "read"))
    assert (typed.code, typed.step, typed.reason) == (Code.OK, "done", "events:read is granted")
    assert str(typed.rule) == "the scopes of key type 'fixed' (keys.yaml:4)"
    own = prepared.authorize(key("own", "events:read"), ask("GET", "read"))
    assert own.allowed
    assert str(own.rule) == "the key's own scopes, within key type 'own' (keys.yaml:6)"


def test_a_request_an_allow_rule_lets_in_is_answered_with_that_rules_reason() -> None:
    verdict = PreparedPolicy(POLICY).authorize(key("fixed"), ask("POST", "write"))
    assert (verdict.code, verdict.step, verdict.reason) == (Code.OK, "done", "posts may write")
    assert verdict.rule is not None
    assert verdict.rule.name == "writers"


def test_a_rules_compiled_condition_is_named_after_the_rule_in_tracebacks() -> None:
    compiled = {c.rule.name: c for c in PreparedPolicy(POLICY)._rules}
    for name in ("writers", "labelled"):
        assert compiled[name].test.__code__.co_filename == f"<rule {name}>"


def test_a_key_of_an_unknown_type_is_refused_saying_so() -> None:
    verdict = PreparedPolicy(POLICY).authorize(key("gone"), ask("GET", "read"))
    assert (verdict.code, verdict.step) == (Code.INSUFFICIENT_SCOPE, "scope")
    assert verdict.reason == "the key type 'gone' is not in the policies"


def test_an_instance_scope_grants_only_its_own_resource_and_instance() -> None:
    prepared = PreparedPolicy(POLICY)
    own = key("own", "events/evt_1:read", "tasks/evt_2:read")
    assert prepared.authorize(own, ask("GET", "read", "evt_1")).allowed
    for resource_id in ("evt_2", "evt_3", ""):
        refused = prepared.authorize(own, ask("GET", "read", resource_id))
        assert refused.code is Code.INSUFFICIENT_SCOPE, resource_id
    _, steps, scope, _ = prepared.explain(own, ask("GET", "read", "evt_1"))
    assert str(scope) == "events/evt_1:read"
    assert steps[0] == Step("scope", True, "scope events/evt_1:read grants events/evt_1:read")


def test_an_explanation_of_a_token_shows_the_tokens_scope_and_answer() -> None:
    prepared = PreparedPolicy(POLICY)
    everything = replace(key("everything"), label="another")  # the deny rule is not about it
    verdict, steps, scope, _ = prepared.explain(everything, ask("GET", "read"), ("events:read",))
    assert verdict.allowed
    assert str(scope) == "events:read"
    assert steps[0] == Step("scope", True, "scope events:read grants events/evt_1:read")
    verdict, steps, scope, _ = prepared.explain(everything, ask("PUT", "write"), ("events:read",))
    assert verdict.code is Code.INSUFFICIENT_SCOPE
    assert (
        verdict.reason == "no scope of this token grants events:write (its everything key's would)"
    )
    assert scope is None
    assert steps[0] == Step("scope", False, "no scope grants events/evt_1:write")


def test_an_answer_is_steady_once_worked_out_and_only_for_what_it_was_asked() -> None:
    prepared = PreparedPolicy(POLICY)
    fixed = key("fixed")
    assert not prepared.is_steady(fixed, None, "events", "read", False)
    assert prepared.authorize(fixed, ask("GET", "read")).allowed
    assert prepared.is_steady(fixed, None, "events", "read", False)
    assert not prepared.is_steady(fixed, None, "events", "write", False)
    assert not prepared.is_steady(fixed, ("events:read",), "events", "read", False)


def test_a_keys_own_rates_replace_or_add_to_its_types_limits_per_key() -> None:
    slow, fast = Rate(1, 60.0, 1), Rate(100, 1.0, 10)
    typed = replace(KEY_TYPES["fixed"], rate_limits=(RateLimit("minute", slow, "allow"),))
    prepared = PreparedPolicy(replace(POLICY, key_types={**KEY_TYPES, "fixed": typed}))
    plain = key("fixed")
    mine = replace(key("fixed", rate_limits={"minute": fast, "burst": slow}), id="key_e2")
    assert prepared.limits_for(plain) == ((RateLimit("minute", slow, "allow"),), None)
    assert prepared.limits_for(mine) == (
        (RateLimit("minute", fast, "allow"), RateLimit("burst", slow, "deny")),
        None,
    )
    assert prepared.limits_for(plain)[0] == (RateLimit("minute", slow, "allow"),)


def test_a_granted_answer_no_deny_rule_can_change_is_steady_whatever_its_allow_rules_read() -> None:
    """An allow rule reading the headers only matters where no scope grants."""
    by_header = Rule(
        name="by-header",
        effect="allow",
        reason="the team may read",
        resources=("events",),
        when=condition('request.headers["x-team"] == "ops"'),
    )
    prepared = PreparedPolicy(replace(POLICY, rules=(by_header,)))
    fixed = key("fixed")
    assert prepared.authorize(fixed, ask("GET", "read")).allowed
    assert prepared.is_steady(fixed, None, "events", "read", False)
    refused = prepared.authorize(fixed, ask("GET", "delete"))
    assert refused.code is Code.INSUFFICIENT_SCOPE
    assert not prepared.is_steady(fixed, None, "events", "delete", False)


@pytest.mark.parametrize(
    ("when", "steady"),
    [
        ('key.label == "explained" and request.ip in "10.0.0.0/8"', True),
        ('resource.id == "evt_1" and request.method == "GET"', True),
        ('request.action == "read" and request.credential == "key"', True),
        ('request.path == "/v1/x" and resource.type == "events"', True),
        ("weekday(request.time) == key.label", False),
        ('request.headers["x-team"] == "ops"', False),
    ],
)
def test_an_answer_is_steady_only_when_its_rules_read_nothing_that_changes_per_request(
    when: str, steady: bool
) -> None:
    rule = Rule(name="r", effect="deny", reason="no", resources=("events",), when=condition(when))
    prepared = PreparedPolicy(replace(POLICY, rules=(rule,)))
    prepared.authorize(key("fixed"), ask("GET", "read"))
    assert prepared.is_steady(key("fixed"), None, "events", "read", False) is steady


def test_no_answer_of_a_policy_set_counting_coverage_is_steady_unless_fixed() -> None:
    """Coverage counts every evaluation: an answer a rule decides is asked afresh."""
    rule = Rule(
        name="r", effect="deny", reason="no", resources=("events",), when=condition(STEADY_RULE)
    )
    coverage = Coverage()
    prepared = PreparedPolicy(replace(POLICY, rules=(rule,)), coverage)
    assert prepared.authorize(key("fixed"), ask("GET", "read")).allowed
    assert not prepared.is_steady(key("fixed"), None, "events", "read", False)
    assert prepared.authorize(key("fixed"), ask("GET", "delete")).code is Code.INSUFFICIENT_SCOPE
    assert prepared.is_steady(key("fixed"), None, "events", "delete", False)
    assert coverage.report(prepared.policy).branches  # the rule's condition is counted


def test_rules_on_any_resource_and_on_this_one_are_read_once_each_in_file_order() -> None:
    anywhere = Rule(name="anywhere", effect="deny", reason="first", resources=("*",))
    both = Rule(name="both", effect="deny", reason="second", resources=("events", "*"))
    named = Rule(name="named", effect="deny", reason="third", resources=("events",))
    prepared = PreparedPolicy(replace(POLICY, rules=(anywhere, both, named)))
    verdict, steps, _, matched = prepared.explain(key("everything"), ask("GET", "read"))
    assert (verdict.code, verdict.reason) == (Code.DENIED_BY_POLICY, "first")
    assert matched == [anywhere, both, named]
    assert [s.detail for s in steps[1:]] == [
        "deny rule anywhere (<memory>:1) matched",
        "deny rule both (<memory>:1) matched",
        "deny rule named (<memory>:1) matched",
    ]
    later = PreparedPolicy(replace(POLICY, rules=(named, both, anywhere)))
    assert later.authorize(key("everything"), ask("GET", "read")).reason == "third"
    # A resource no rule names: only the rules on any resource apply.
    tasks = context({**REQUEST, "resource.type": "tasks", "request.action": "read"})
    assert prepared.explain(key("everything"), tasks)[3] == [anywhere, both]


def test_a_rule_naming_its_resource_twice_is_read_once() -> None:
    twice = Rule(name="twice", effect="deny", reason="no", resources=("events", "events"))
    prepared = PreparedPolicy(replace(POLICY, rules=(twice,)))
    _, steps, _, matched = prepared.explain(key("everything"), ask("GET", "read"))
    assert matched == [twice]
    assert [s.detail for s in steps[1:]] == ["deny rule twice (<memory>:1) matched"]


def test_among_matching_deny_rules_one_about_networks_decides_whatever_the_order() -> None:
    policy = Rule(name="policy", effect="deny", reason="by policy", resources=("events",))
    network = Rule(
        name="network", effect="deny", reason="not here", resources=("*",), code="IP_NOT_ALLOWED"
    )
    for rules in ((policy, network), (network, policy)):
        prepared = PreparedPolicy(replace(POLICY, rules=rules))
        verdict = prepared.authorize(key("everything"), ask("GET", "read"))
        assert (verdict.code, verdict.step, verdict.reason) == (
            Code.IP_NOT_ALLOWED,
            "rules",
            "not here",
        )


def test_a_keys_own_scopes_count_only_within_its_types_allowance_and_a_token_within_them() -> None:
    prepared = PreparedPolicy(POLICY)
    own = key("own", "events:read", "tasks:write", "not a scope")
    assert prepared.authorize(own, ask("GET", "read")).allowed
    tasks = context({**REQUEST, "resource.type": "tasks", "request.action": "write"})
    assert prepared.authorize(own, tasks).code is Code.INSUFFICIENT_SCOPE
    assert [str(s) for s in prepared.grants(own, KEY_TYPES["own"])] == ["events:read"]
    narrowed = ("events:read", "events:write", "nonsense")
    assert [str(s) for s in prepared.grants(own, KEY_TYPES["own"], narrowed)] == ["events:read"]
    assert prepared.authorize(own, ask("PUT", "write"), narrowed).code is Code.INSUFFICIENT_SCOPE
    assert prepared.grants(own, None) == []


def test_a_keys_credits_are_its_own_else_its_types_and_an_unknown_type_has_no_limits() -> None:
    monthly, daily = Usage(100), Usage(5, "daily")
    typed = replace(KEY_TYPES["fixed"], usage=monthly)
    prepared = PreparedPolicy(replace(POLICY, key_types={**KEY_TYPES, "fixed": typed}))
    assert prepared.limits_for(key("fixed")) == ((), monthly)
    assert prepared.limits_for(replace(key("fixed", usage=daily), id="key_e3")) == ((), daily)
    assert prepared.limits_for(replace(key("gone"), id="key_e4")) == ((), None)


def test_coverage_counts_the_conditions_of_every_rule_it_evaluates() -> None:
    guarded = Rule(
        name="guarded",
        effect="deny",
        reason="no",
        resources=("events",),
        when=condition('request.method == "PUT"'),
        unless=condition('key.label == "explained"'),
    )
    coverage = Coverage()
    prepared = PreparedPolicy(replace(POLICY, rules=(guarded,)), coverage)
    assert prepared.authorize(key("everything"), ask("PUT", "write")).allowed
    assert prepared.authorize(key("everything"), ask("GET", "read")).allowed
    report = coverage.report(prepared.policy)
    assert [(b.text, outcomes) for b, outcomes in report.branches] == [
        ('request.method == "PUT"', {True, False}),
        ('key.label == "explained"', {True}),
    ]
