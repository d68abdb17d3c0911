"""Remembered answers of the steps before the limits are the answers worked out afresh:
for any policy set, keys, requests and times, in any order, with the same records asked
again and again."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import ADDRESSES, BASE, HEADERS, KEY_TYPES, RESOURCES, condition, keys, policy_sets

from policyengine.decision import Code, Decision
from policyengine.judged import MAX_JUDGED, judged, metered
from policyengine.net import Proxies
from policyengine.pipeline import judge, resolve
from policyengine.policy.model import PolicySet, Route, Rule
from policyengine.policy.prepared import PreparedPolicy
from policyengine.record import KeyRecord
from policyengine.request import Request

ROUTES = (
    Route("GET", "/v1/events", "events", None, "read"),
    Route("DELETE", "/v1/events/{id}", "events", "{id}", "delete"),
    Route("POST", "/v1/tasks/{id}/runs", "tasks", "{id}", "trigger"),
    Route("GET", "/health", "events", None, "read", any_key=True),
)
PATHS = (
    ("GET", "/v1/events"),
    ("DELETE", "/v1/events/evt_1"),
    ("DELETE", "/v1/events/evt_2"),
    ("POST", "/v1/tasks/t_1/runs"),
    ("GET", "/health"),
    ("GET", "/v1/nothing"),
    ("GET", "/v1/events/../keys"),
)

requests = st.one_of(
    st.builds(
        lambda asked, ip, headers: Request("k", asked[0], asked[1], ip=ip, headers=headers),
        st.sampled_from(PATHS),
        st.sampled_from((*ADDRESSES, None, "not-an-address")),
        st.sampled_from(({}, {"x-team": "ops"}, {"x-forwarded-for": "203.0.113.9"})),
    ),
    st.builds(
        lambda resource, instance, action, ip: Request(
            "k", resource=resource + instance, action=action, ip=ip
        ),
        st.sampled_from(sorted(RESOURCES)),
        st.sampled_from(("", "/evt_1")),
        st.sampled_from(("read", "write", "delete", "trigger")),
        st.sampled_from(ADDRESSES),
    ),
)


def _fresh(
    prepared: PreparedPolicy,
    key: KeyRecord,
    request: Request,
    proxies: Proxies,
    minutes: int,
    credential_type: str,
    token_scopes: tuple[str, ...] | None,
) -> Decision:
    now = BASE + timedelta(minutes=minutes)
    resolved = resolve(prepared, request, now.timestamp(), proxies, credential_type)
    return judge(prepared, key, resolved, "live", now, token_scopes)


@settings(max_examples=200, deadline=None)
@given(
    policy=policy_sets(),
    records=st.lists(keys(), min_size=1, max_size=3),
    pool=st.lists(requests, min_size=1, max_size=3),
    asked=st.lists(
        st.tuples(
            st.integers(0, 2),
            st.integers(0, 2),
            # Around BASE, where generated keys are revoked and expire, both ways in time.
            st.integers(-10 * 1440, 10 * 1440),
            st.sampled_from(("key", "token")),
            st.sampled_from((None, ("events:read",), ("*",))),
        ),
        min_size=1,
        max_size=20,
    ),
    trusted=st.booleans(),
)
def test_remembered_answers_are_the_answers_worked_out_afresh(
    policy: object,
    records: list[KeyRecord],
    pool: list[Request],
    asked: list[tuple[int, int, int, str, tuple[str, ...] | None]],
    trusted: bool,
) -> None:
    # Few keys and requests, asked many times: answers are kept and found again.
    prepared = PreparedPolicy(replace(policy, routes=ROUTES))  # type: ignore[type-var]
    proxies = Proxies(["10.0.0.0/8"] if trusted else ())
    for which, asking, minutes, credential_type, scopes in asked:
        key = records[which % len(records)]
        request = pool[asking % len(pool)]
        now = BASE + timedelta(minutes=minutes)
        got, is_metered = judged(
            prepared, key, request, now, proxies, "live", credential_type, scopes
        )
        assert got == _fresh(prepared, key, request, proxies, minutes, credential_type, scopes)
        resolved = resolve(prepared, request, now.timestamp(), proxies, credential_type)
        assert is_metered == metered(resolved)


def decided(*asked: object) -> Decision:
    """The decision of :func:`judged`, without whether its route is metered."""
    return judged(*asked)[0]  # type: ignore[arg-type]


def _key(**changes: object) -> KeyRecord:
    fields: dict[str, object] = {
        "id": "key_a1",
        "type": "everything",
        "label": "ops",
        "environment": "live",
        "prefix": "tdoc_live_",
        "last4": "abcd",
        "created_at": BASE - timedelta(days=1),
    }
    fields.update(changes)
    return KeyRecord(**fields)  # type: ignore[arg-type]


def _prepared(*rules: Rule) -> PreparedPolicy:
    return PreparedPolicy(
        PolicySet(
            key_types=KEY_TYPES, routes=ROUTES, rules=rules, resources=RESOURCES, headers=HEADERS
        )
    )


@pytest.mark.parametrize(
    ("when", "first", "then"),
    [
        ('request.time >= "2026-06-01T12:00:00Z"', {}, {"minutes": 12 * 60}),
        ('request.headers["x-team"] == "ops"', {}, {"headers": {"x-team": "ops"}}),
        ('resource.id == "evt_2"', {}, {"path": "/v1/events/evt_2"}),
    ],
)
def test_an_answer_that_read_the_request_is_worked_out_each_time(
    when: str, first: dict[str, object], then: dict[str, object]
) -> None:
    # A rule's condition may read anything of the request: its answers are never kept.
    prepared = _prepared(Rule("after-noon", "deny", "closed", when=condition(when)))
    key = _key()

    def asked(minutes: int = 0, **changes: object) -> Code:
        request = Request("k", "DELETE", "/v1/events/evt_1", ip="10.1.2.3")
        request = replace(request, **changes)  # type: ignore[arg-type]
        now = BASE + timedelta(minutes=minutes)
        return decided(prepared, key, request, now, Proxies(), "live", "key").code

    assert asked(**first) is Code.OK
    assert asked(**then) is Code.DENIED_BY_POLICY
    assert asked(**first) is Code.OK


def test_a_remembered_answer_ends_when_the_key_expires() -> None:
    prepared = _prepared()
    key = _key(expires_at=BASE + timedelta(hours=1))
    request = Request("k", "GET", "/v1/events", ip="10.1.2.3")
    before = decided(prepared, key, request, BASE, Proxies(), "live", "key")
    assert before.code is Code.OK
    after = decided(prepared, key, request, BASE + timedelta(hours=1), Proxies(), "live", "key")
    assert after.code is Code.EXPIRED
    # A replay before the expiry is still allowed.
    assert decided(prepared, key, request, BASE, Proxies(), "live", "key").code is Code.OK


def test_a_record_read_again_is_judged_afresh() -> None:
    prepared = _prepared()
    request = Request("k", "GET", "/v1/events", ip="10.1.2.3")
    key = _key()
    assert decided(prepared, key, request, BASE, Proxies(), "live", "key").code is Code.OK
    revoked = replace(key, revoked_at=BASE - timedelta(seconds=1))
    assert decided(prepared, revoked, request, BASE, Proxies(), "live", "key").code is Code.REVOKED


def test_each_check_gets_a_decision_of_its_own() -> None:
    prepared = _prepared()
    request = Request("k", "GET", "/v1/events", ip="10.1.2.3")
    key = _key()
    first = decided(prepared, key, request, BASE, Proxies(), "live", "key")
    first.reason = "changed by its caller"
    again = decided(prepared, key, request, BASE, Proxies(), "live", "key")
    assert again is not first
    assert again.reason == "events:read is granted"


def test_the_answers_kept_are_bounded() -> None:
    prepared = _prepared()
    key = _key()
    most = 0
    for n in range(MAX_JUDGED + 10):
        decided(prepared, key, Request("k", "GET", f"/v1/x{n}"), BASE, Proxies(), "live", "key")
        most = max(most, len(prepared.judgements))
    assert most == MAX_JUDGED  # full, then started again
    assert len(prepared.judgements) == 10


def test_a_decision_names_the_type_and_environment_of_the_record_it_judged() -> None:
    # Two stores in one process may hold records under one id; each decision is its own.
    prepared = _prepared()
    request = Request("k", "GET", "/v1/events", ip="10.1.2.3")
    asked = [
        ("everything", "live"),
        ("own", "live"),
        ("everything", "live"),
        ("everything", "test"),
    ]
    for type_, environment in asked:
        scopes = ("events:read",) if type_ == "own" else ()
        key = _key(type=type_, environment=environment, scopes=scopes)
        decision = decided(prepared, key, request, BASE, Proxies(), "live", "key")
        assert decision.key is not None
        assert (decision.key.type, decision.key.environment) == (type_, environment)


def test_a_request_asked_again_is_answered_from_what_was_kept(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import policyengine.judged

    prepared = _prepared()
    key = _key()
    request = Request("k", "GET", "/v1/events", ip="10.1.2.3")
    worked_out = []
    judge_afresh = policyengine.judged.judge

    def counted(*args: object, **kwargs: object) -> Decision:
        worked_out.append(args)
        return judge_afresh(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(policyengine.judged, "judge", counted)
    first = decided(prepared, key, request, BASE, Proxies(), "live", "key")
    again = decided(prepared, key, request, BASE + timedelta(hours=1), Proxies(), "live", "key")
    assert again == first
    assert len(worked_out) == 1  # the second was recalled
    # Another record of the same key (read again from the store) is judged afresh.
    decided(prepared, replace(key, label="again"), request, BASE, Proxies(), "live", "key")
    assert len(worked_out) == 2
