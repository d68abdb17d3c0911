"""An explained decision: the steps that led to it, the scope that granted, the rules that
matched, as ``policyengine explain`` and dry runs show them."""

from __future__ import annotations

from strategies import BASE, KEY_TYPES, RESOURCES, condition
from test_differential import context
from test_regressions import REQUEST

from policyengine.decision import Step
from policyengine.policy.model import PolicySet, Rule
from policyengine.policy.prepared import PreparedPolicy
from policyengine.record import KeyRecord

WRITERS = Rule(
    name="writers",
    effect="allow",
    reason="posts may write",
    resources=("events",),
    actions=("write",),
    when=condition('request.method == "POST"'),
)
NIGHT = Rule(
    name="night",
    effect="deny",
    reason="no deletes",
    resources=("events",),
    when=condition('request.method == "DELETE"'),
)
POLICY = PolicySet(
    key_types=KEY_TYPES, rules=(WRITERS, NIGHT), resources=RESOURCES, headers=("x-team",)
)


def key(key_type: str) -> KeyRecord:
    return KeyRecord(
        id="key_e1",
        type=key_type,
        label="explained",
        environment="live",
        prefix="tdoc_live_",
        last4="abcd",
        created_at=BASE,
    )


def explain(key_type: str, method: str, action: str, any_key: bool = False):  # type: ignore[no-untyped-def]
    request = {
        **REQUEST,
        "request.method": method,
        "request.action": action,
        "resource.id": "evt_1",
    }
    return PreparedPolicy(POLICY).explain(key(key_type), context(request), None, any_key)


def test_a_request_no_scope_grants_is_explained_by_the_allow_rule_that_let_it_in() -> None:
    verdict, steps, scope, matched = explain("fixed", "POST", "write")
    assert verdict.allowed
    assert scope is None
    assert matched == [WRITERS]
    assert steps == [
        Step("scope", False, "no scope grants events/evt_1:write"),
        Step("rules", True, f"allow rule {verdict.rule} matched"),
        Step("rules", True, "deny rule night (<memory>:1) did not match"),
    ]


def test_a_request_a_scope_grants_is_explained_by_that_scope_and_the_deny_rules() -> None:
    verdict, steps, scope, matched = explain("everything", "DELETE", "delete")
    assert not verdict.allowed
    assert str(scope) == "*"
    assert matched == [NIGHT]
    assert steps == [
        Step("scope", True, "scope * grants events/evt_1:delete"),
        Step("rules", False, "deny rule night (<memory>:1) matched"),
    ]


def test_an_allow_rule_that_does_not_match_leaves_the_request_refused() -> None:
    verdict, steps, scope, matched = explain("fixed", "PUT", "write")
    assert verdict.code.value == "INSUFFICIENT_SCOPE"
    assert scope is None
    assert matched == []
    assert steps == [
        Step("scope", False, "no scope grants events/evt_1:write"),
        Step("rules", False, "allow rule writers (<memory>:1) did not match"),
    ]


def test_a_route_any_key_may_call_is_explained_as_such() -> None:
    verdict, steps, scope, matched = explain("fixed", "PUT", "write", any_key=True)
    assert verdict.allowed
    assert scope is None
    assert matched == []
    assert steps == [
        Step("scope", True, "any valid key may call this route"),
        Step("rules", True, "deny rule night (<memory>:1) did not match"),
    ]


def test_a_request_for_a_whole_collection_names_no_instance() -> None:
    request = {**REQUEST, "request.method": "PUT", "request.action": "write"}
    _, steps, _, _ = PreparedPolicy(POLICY).explain(key("fixed"), context(request))
    assert steps[0] == Step("scope", False, "no scope grants events:write")
