"""A dry run decides a request as a real check would, and uses nothing: no rate-limit unit,
no credit, no note of the key's last use, no record in the monitor. A route that is not
metered (``metered: false``) is checked against the key's limits without using them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import SECRET, Clock, edited_policies, tdoc_engine

from policyengine.decision import Code
from policyengine.engine import Engine
from policyengine.limits import Limiter
from policyengine.record import Usage
from policyengine.request import Request

CLIENT = "203.0.113.9"


@pytest.fixture
def engine(clock: Clock, limiter: Limiter) -> Iterator[Engine]:
    with tdoc_engine(clock, limiter=limiter) as built:
        yield built


def policies_engine(policies: Path, clock: Clock, limiter: Limiter | str) -> Engine:
    return Engine.from_directory(
        policies,
        environment="live",
        store="memory://",
        secret=SECRET,
        clock=clock,
        limiter=limiter,
        maintenance_interval=None,
    )


def get(secret: str, path: str = "/v1/events", method: str = "GET") -> Request:
    return Request(credential=secret, method=method, path=path, ip=CLIENT)


def test_dry_runs_at_a_rate_limit_of_n_leave_all_n_requests(engine: Engine) -> None:
    issued = engine.keys.create(
        type="read-only", label="three a minute", environment="live", rate_limit="3/minute"
    )
    simulated = [engine.check(get(issued.secret), dry_run=True) for _ in range(10)]
    assert [d.code for d in simulated] == [Code.OK] * 10
    assert simulated[-1].headers["RateLimit"] == '"default";r=3;t=0'
    real = [engine.check(get(issued.secret)).code for _ in range(4)]
    assert real == [Code.OK] * 3 + [Code.RATE_LIMITED]
    # Over the limit, a dry run says so, with when to retry, and still uses nothing.
    over = engine.check(get(issued.secret), dry_run=True, explain=True)
    assert over.code is Code.RATE_LIMITED
    assert "Retry-After" in over.headers
    assert over.trace is not None
    assert over.trace[-1].step == "rate"


def test_dry_runs_spend_no_credit(engine: Engine) -> None:
    issued = engine.keys.create(
        type="read-only", label="two calls", environment="live", usage=Usage(2, "never")
    )
    for _ in range(5):
        assert engine.check(get(issued.secret), dry_run=True).code is Code.OK
    real = [engine.check(get(issued.secret)).code for _ in range(3)]
    assert real == [Code.OK, Code.OK, Code.USAGE_EXCEEDED]
    assert engine.check(get(issued.secret), dry_run=True).code is Code.USAGE_EXCEEDED


def test_a_dry_run_is_neither_recorded_nor_noted_as_the_keys_use(engine: Engine) -> None:
    issued = engine.keys.create(type="read-only", label="quiet", environment="live")
    denied = engine.check(get(issued.secret, method="POST"), dry_run=True, explain=True)
    assert denied.code is Code.INSUFFICIENT_SCOPE
    engine.flush()
    assert engine.keys.get(issued.key.id).last_used_at is None
    assert [a.event for a in engine.monitor.activity(issued.key.id)] == ["key.created"]
    engine.check(get(issued.secret))
    engine.flush()
    assert engine.keys.get(issued.key.id).last_used_at is not None
    assert next(a.event for a in engine.monitor.activity(issued.key.id)) == "decision"


def test_calls_to_an_unmetered_route_use_none_of_the_keys_limits(
    clock: Clock, limiter: Limiter, tmp_path: Path
) -> None:
    old = 'POST /v1/auth/token: {scope: "tokens:issue", any_key: true}'
    new = 'POST /v1/auth/token: {scope: "tokens:issue", any_key: true, metered: false}'
    policies = edited_policies(tmp_path, "routes.yaml", old, new)
    with policies_engine(policies, clock, limiter) as engine:
        issued = engine.keys.create(
            type="read-only", label="two", environment="live", rate_limit="2/minute"
        )
        free = [engine.check(get(issued.secret, "/v1/auth/token", "POST")) for _ in range(5)]
        assert [d.code for d in free] == [Code.OK] * 5
        real = [engine.check(get(issued.secret)).code for _ in range(3)]
        assert real == [Code.OK, Code.OK, Code.RATE_LIMITED]
        # Not metered is not unlimited: a key over its limits is refused there too.
        refused = engine.check(get(issued.secret, "/v1/auth/token", "POST"))
        assert refused.code is Code.RATE_LIMITED


def test_a_metered_flag_that_is_not_a_boolean_is_a_policy_error(
    clock: Clock, tmp_path: Path
) -> None:
    from policyengine.errors import PolicyError

    old = 'POST /v1/auth/token: {scope: "tokens:issue", any_key: true}'
    new = 'POST /v1/auth/token: {scope: "tokens:issue", any_key: true, metered: "no"}'
    policies = edited_policies(tmp_path, "routes.yaml", old, new)
    with pytest.raises(PolicyError, match=r"routes\.yaml:\d+:\d+: metered must be true or false"):
        policies_engine(policies, clock, "memory://").close()


def test_an_allowed_decision_names_what_let_it_in(engine: Engine) -> None:
    issued = engine.keys.create(type="read-only", label="reader", environment="live")
    by_scope = engine.check(get(issued.secret))
    assert str(by_scope.rule).startswith("the scopes of key type 'read-only' (")
    assert by_scope.rule is not None
    assert by_scope.rule.location is not None
    assert by_scope.rule.location.file.endswith("key_types.yaml")
    own = engine.check(get(issued.secret, f"/v1/keys/{issued.key.id}"), explain=True)
    assert own.allowed
    assert own.rule is not None
    assert own.rule.name == "keys-read-themselves"
    assert own.rule.location is not None
    assert own.rule.location.file.endswith("rules.yaml")
    assert own.reason == "Any key may read its own record, usage and activity"
    token = engine.check(get(issued.secret, "/v1/auth/token", "POST"))
    assert str(token.rule) == "any-key route"
