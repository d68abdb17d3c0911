"""Counterexamples the property tests once found, kept so that they stay fixed."""

from __future__ import annotations

from dataclasses import replace

from reference import address, decide
from strategies import BASE, KEY_TYPES, RESOURCES, condition
from test_differential import compiled

from policyengine.policy.model import PolicySet, Rule
from policyengine.policy.prepared import PreparedPolicy
from policyengine.record import KeyRecord

KEY = KeyRecord(
    id="key_a1",
    type="everything",
    label="nightly export",
    environment="live",
    prefix="tdoc_live_",
    last4="abcd",
    created_at=BASE,
)
REQUEST: dict[str, object] = {
    "request.ip": "10.1.2.3",
    "request.method": "GET",
    "request.path": "/v1/x",
    "request.time": BASE.timestamp(),
    "request.action": "delete",
    "request.credential": "key",
    "request.headers": {},
    "resource.type": "events",
    "resource.id": "",
}


def policy(*rules: Rule) -> PolicySet:
    return PolicySet(key_types=KEY_TYPES, rules=rules, resources=RESOURCES, headers=("x-team",))


def test_two_matching_deny_rules_with_different_codes_decide_the_same_in_any_order() -> None:
    # Found by test_order_and_duplicates_of_rules_do_not_change_the_decision: the code was
    # that of whichever deny rule came first.
    by_policy = Rule(name="rule-2", effect="deny", reason="r2")
    by_network = Rule(name="rule-3", effect="deny", reason="r3", code="IP_NOT_ALLOWED")
    for rules in ((by_policy, by_network), (by_network, by_policy)):
        result = compiled(PreparedPolicy(policy(*rules)), KEY, REQUEST)
        assert result == ("IP_NOT_ALLOWED", "rule-3")
        reference = {**REQUEST, "request.ip": address("10.1.2.3")}
        assert decide(policy(*rules), KEY, reference, "live", BASE) == result


def test_a_quoted_instant_in_arithmetic_is_a_time() -> None:
    # Found by the differential test's generator: `request.time - "…Z"` was refused as
    # subtracting a string from a time.
    rule = Rule(
        name="recent",
        effect="deny",
        reason="recent",
        when=condition('request.time - "2026-05-31T00:00:00Z" < 2d'),
    )
    assert compiled(PreparedPolicy(policy(rule)), KEY, REQUEST) == ("DENIED_BY_POLICY", "recent")
    later = {**REQUEST, "request.time": BASE.timestamp() + 86400}
    assert compiled(PreparedPolicy(policy(replace(rule))), KEY, later) == ("OK", None)
