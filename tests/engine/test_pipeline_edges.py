"""Edges of the pipeline that only its exact answers show: an explained decision on a
token or on a route for any key, a refused path's shown form, a resource named without an
action, the step and headers of a refusal, and a judgement for no environment."""

from __future__ import annotations

from conftest import Clock, behind_proxies, scoped_key

from policyengine.decision import Code, Step
from policyengine.engine import Engine
from policyengine.net import NO_PROXIES
from policyengine.pipeline import judge, resolve
from policyengine.request import Request, path_problem

CLIENT = "203.0.113.9"


def _key(engine: Engine) -> str:
    return scoped_key(engine).secret


def test_an_explained_token_decision_keeps_the_tokens_narrower_scopes(engine: Engine) -> None:
    token = engine.tokens.issue(_key(engine), scopes=["events:read"], ttl="15m")
    request = Request(credential=token, method="POST", path="/v1/tasks/tsk_1/runs", ip=CLIENT)
    plain = engine.check(request, dry_run=True)
    explained = engine.check(request, explain=True, dry_run=True)
    assert plain.code is explained.code is Code.INSUFFICIENT_SCOPE
    assert not explained.allowed
    assert (explained.reason, explained.step, explained.rule) == (
        plain.reason,
        plain.step,
        plain.rule,
    )
    assert explained.trace is not None
    assert explained.trace[-1].step == "scope"
    assert not explained.trace[-1].passed


def _refused_reason(engine: Engine, path: str) -> str:
    secret = _key(engine)
    request = Request(credential=secret, method="GET", path=path, ip=CLIENT)
    decision = engine.check(request, explain=True, dry_run=True)
    assert decision.code is Code.DENIED_BY_POLICY
    assert decision.step == "scope"
    assert decision.key is not None
    assert decision.key.id == engine.keys.lookup(secret).id  # type: ignore[union-attr]
    assert decision.trace is not None
    assert [step.step for step in decision.trace] == ["state", "environment", "ip", "scope"]
    assert decision.trace[-1] == Step("scope", False, decision.reason)
    return decision.reason


def test_a_refused_path_of_100_characters_is_shown_whole(engine: Engine) -> None:
    path = "/v1/events/" + "e" * 86 + "/.."
    assert len(path) == 100
    reason = _refused_reason(engine, path)
    assert reason == f"the path {path!r} is refused: {path_problem(path)}"


def test_a_longer_refused_path_is_cut_to_its_first_100_characters(engine: Engine) -> None:
    path = "/v1/events/" + "e" * 87 + "/.."
    assert len(path) == 101
    reason = _refused_reason(engine, path)
    shown = path[:100] + "…"
    assert reason == f"the path {shown!r} is refused: {path_problem(path)}"


def test_a_resource_without_an_action_is_judged_by_the_route(engine: Engine) -> None:
    secret = _key(engine)
    routed = Request(credential=secret, method="GET", path="/v1/events", ip=CLIENT)
    both = Request(credential=secret, method="GET", path="/v1/events", resource="tasks", ip=CLIENT)
    expected = engine.check(routed, explain=True, dry_run=True)
    decision = engine.check(both, explain=True, dry_run=True)
    assert expected.allowed
    assert expected.code is Code.OK
    assert (decision.allowed, decision.code, decision.reason, decision.rule) == (
        expected.allowed,
        expected.code,
        expected.reason,
        expected.rule,
    )
    assert decision.trace == expected.trace


def test_a_key_of_another_environment_is_named_in_its_refusal(engine: Engine) -> None:
    issued = engine.keys.create(type="read-only", label="t", environment="test")
    request = Request(credential=issued.secret, method="GET", path="/v1/events", ip=CLIENT)
    decision = engine.check(request, explain=True, dry_run=True)
    assert decision.code is Code.WRONG_ENVIRONMENT
    assert decision.reason == "a test key cannot be used in the live environment"
    assert decision.key is not None
    assert decision.key.id == issued.key.id
    assert decision.trace is not None
    assert decision.trace[-1] == Step("environment", False, decision.reason)


def test_a_malformed_forwarded_address_is_refused_at_the_ip_step_with_the_key(
    clock: Clock,
) -> None:
    with behind_proxies(clock) as engine:
        secret = _key(engine)
        request = Request(
            credential=secret,
            method="GET",
            path="/v1/events",
            ip="10.0.0.1",
            headers={"X-Forwarded-For": "not-an-address"},
        )
        plain = engine.check(request, dry_run=True)
        decision = engine.check(request, explain=True, dry_run=True)
    assert decision.code is plain.code is Code.IP_NOT_ALLOWED
    assert decision.reason == plain.reason
    assert decision.reason.startswith("the client address is malformed: ")
    assert decision.step == "ip"
    assert decision.key is not None
    assert plain.key is not None
    assert decision.key.id == plain.key.id
    assert decision.trace is not None
    assert [step.step for step in decision.trace] == ["state", "environment", "ip"]
    assert decision.trace[-1] == Step("ip", False, decision.reason)


def test_an_explained_decision_on_a_route_for_any_key_is_allowed(engine: Engine) -> None:
    issued = engine.keys.create(type="scoped", label="t", environment="live", scopes=["tasks:read"])
    request = Request(credential=issued.secret, method="GET", path="/v1/decisions", ip=CLIENT)
    plain = engine.check(request, dry_run=True)
    explained = engine.check(request, explain=True, dry_run=True)
    assert plain.allowed
    assert explained.allowed
    assert explained.code is plain.code is Code.OK
    assert (explained.reason, explained.step, explained.rule) == (
        plain.reason,
        plain.step,
        plain.rule,
    )
    assert explained.trace is not None
    assert Step("scope", True, "any valid key may call this route") in explained.trace


def test_a_refusal_by_scope_or_rule_names_its_step_and_sends_no_headers(engine: Engine) -> None:
    reader = engine.keys.create(type="read-only", label="t", environment="live").secret
    writer = engine.keys.create(type="write", label="t", environment="live").secret
    asked = [
        (reader, "POST", "/v1/events", Code.INSUFFICIENT_SCOPE, "scope"),
        # Live writes from a key with no allowed networks: tDoc's rule refuses them.
        (writer, "POST", "/v1/events", Code.DENIED_BY_POLICY, "rules"),
    ]
    for secret, method, path, code, step in asked:
        for explain in (False, True):
            request = Request(credential=secret, method=method, path=path, ip=CLIENT)
            decision = engine.check(request, explain=explain, dry_run=True)
            assert (decision.allowed, decision.code, decision.step) == (False, code, step)
            assert dict(decision.headers) == {}
            assert decision.status == code.status


def test_an_allowed_decision_is_decided_at_the_last_step(engine: Engine) -> None:
    request = Request(credential=_key(engine), method="GET", path="/v1/events", ip=CLIENT)
    for explain in (False, True):
        decision = engine.check(request, explain=explain, dry_run=True)
        assert (decision.allowed, decision.code, decision.step) == (True, Code.OK, "done")


def test_a_judgement_for_no_environment_admits_keys_of_either(engine: Engine, clock: Clock) -> None:
    prepared = engine.prepared
    for environment in ("live", "test"):
        issued = engine.keys.create(type="read-only", label="t", environment=environment)
        request = Request(credential=issued.secret, method="GET", path="/v1/events", ip=CLIENT)
        resolved = resolve(prepared, request, clock.now.timestamp(), NO_PROXIES, "key")
        decision = judge(prepared, issued.key, resolved, None, clock.now, explain=True)
        assert decision.allowed
        assert decision.trace is not None
        assert decision.trace[1] == Step(
            "environment", True, f"{environment} key in the any environment"
        )
