"""A token's scopes are narrowed to what its key may do *now*: a key that loses a scope,
or a key type whose policy loses one, takes it from every token already issued."""

from __future__ import annotations

from pathlib import Path

from conftest import SECRET, Clock, edited_policies, scoped_key

from policyengine.decision import Code
from policyengine.engine import Engine
from policyengine.request import Request

CLIENT = "203.0.113.9"


def code(engine: Engine, credential: str, method: str, path: str) -> Code:
    return engine.check(Request(credential=credential, method=method, path=path, ip=CLIENT)).code


def test_a_scope_the_key_lost_is_lost_by_its_tokens(engine: Engine) -> None:
    issued = scoped_key(engine)
    token = engine.tokens.issue(issued.secret, scopes=["events:read", "tasks:trigger"], ttl="15m")
    assert code(engine, token, "POST", "/v1/tasks/tsk_1/runs") is Code.OK
    engine.keys.update(issued.key.id, scopes=["events:read"])
    assert code(engine, token, "POST", "/v1/tasks/tsk_1/runs") is Code.INSUFFICIENT_SCOPE
    assert code(engine, issued.secret, "POST", "/v1/tasks/tsk_1/runs") is Code.INSUFFICIENT_SCOPE
    assert code(engine, token, "GET", "/v1/events") is Code.OK


def test_a_scope_the_key_type_lost_is_lost_by_its_tokens(engine: Engine, tmp_path: Path) -> None:
    issued = engine.keys.create(type="read-only", label="r", environment="live")
    token = engine.tokens.issue(issued.secret, ttl="15m")
    assert code(engine, token, "GET", "/v1/hooks") is Code.OK
    engine.reload(edited_policies(tmp_path, "key_types.yaml", ', "hooks:read"]', "]"))
    assert code(engine, token, "GET", "/v1/hooks") is Code.INSUFFICIENT_SCOPE
    assert code(engine, token, "GET", "/v1/events") is Code.OK


def test_a_token_refused_a_scope_its_key_has_says_it_is_the_token(engine: Engine) -> None:
    issued = engine.keys.create(type="write", label="w", environment="live", allowed_ips=[CLIENT])
    token = engine.tokens.issue(issued.secret, scopes=["events:read"], ttl="15m")

    def reason(credential: str, method: str, path: str) -> str:
        asked = Request(credential=credential, method=method, path=path, ip=CLIENT)
        decision = engine.check(asked)
        assert decision.code is Code.INSUFFICIENT_SCOPE
        return decision.reason

    narrowed = "no scope of this token grants events:write (its write key's would)"
    assert reason(token, "POST", "/v1/events") == narrowed
    # What the key could not do either is the key's to lack.
    assert reason(token, "GET", "/v1/keys") == "no scope of this write key grants keys:read"
    assert reason(issued.secret, "GET", "/v1/keys") == "no scope of this write key grants keys:read"


def test_a_token_let_in_by_a_rule_that_reads_the_time_is_asked_again_as_time_passes(
    clock: Clock, tmp_path: Path
) -> None:
    """The key's own answer needs no rule (its scope grants the route), but its token's
    does; that the key's answer may be remembered says nothing of the token's."""
    rule = (
        "rules:\n"
        "  - name: morning-reads\n"
        "    effect: allow\n"
        "    resources: [events]\n"
        "    actions: [read]\n"
        "    when: hour(request.time) < 13\n"
        "    reason: Events are open to any scope in the morning\n"
    )
    policies = edited_policies(tmp_path, "rules.yaml", "rules:\n", rule)
    with Engine.from_directory(
        policies, environment="live", store="memory://", secret=SECRET, clock=clock
    ) as engine:
        issued = scoped_key(engine)
        clock.advance(1800)  # 12:30, so that the token outlives the morning
        token = engine.tokens.issue(issued.secret, scopes=["tasks:trigger"], ttl="1h")
        for _ in range(2):
            assert code(engine, issued.secret, "GET", "/v1/events") is Code.OK
            assert code(engine, token, "GET", "/v1/events") is Code.OK  # by the rule
        clock.advance(1799)  # 12:59:59
        assert code(engine, token, "GET", "/v1/events") is Code.OK
        clock.advance(1)
        assert code(engine, issued.secret, "GET", "/v1/events") is Code.OK
        assert code(engine, token, "GET", "/v1/events") is Code.INSUFFICIENT_SCOPE
