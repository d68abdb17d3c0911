"""What a decision record holds, and the explanation it gives back later."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

from policyengine.decision import Code
from policyengine.engine import Engine
from policyengine.monitor import DecisionRecord
from policyengine.request import Request

from .conftest import EngineFactory
from .support import POLICIES, T0, get, reader


def only(engine: Engine, key_id: str | None = None) -> DecisionRecord:
    engine.flush()
    every_code = [code.value for code in Code]  # decisions only, not the key's lifecycle
    page = (
        engine.monitor.activity(key_id, code=every_code)
        if key_id
        else engine.monitor.address_activity()
    )
    assert len(page) == 1
    return page[0]


def test_a_checks_recorded_latency_is_the_time_the_check_took(make_engine: EngineFactory) -> None:
    engine = make_engine()
    issued = reader(engine)
    started = time.perf_counter()
    engine.check(get(issued.secret))
    took = time.perf_counter() - started
    record = only(engine, issued.key.id)
    # Stores keep whole microseconds.
    assert 0 < record.latency <= took + 1e-6


def test_a_record_names_the_engines_environment_and_masks_keys_of_its_prefix(
    make_engine: EngineFactory, tmp_path: Path
) -> None:
    policies = tmp_path / "policies"
    shutil.copytree(POLICIES, policies)
    types = policies / "key_types.yaml"
    types.write_text(types.read_text().replace("key_prefix: tdoc", "key_prefix: acme"))
    engine = make_engine(environment="test", policies_dir=policies)
    issued = engine.keys.create(type="read-only", label="t", environment="test")
    assert issued.secret.startswith("acme_test_")
    engine.check(get(issued.secret, f"/v1/keys/{issued.secret}"))
    record = only(engine, issued.key.id)
    assert (record.environment, record.path) == ("test", "/v1/keys/[redacted key]")


def test_an_allowed_check_is_kept_with_everything_that_explains_it(
    make_engine: EngineFactory,
) -> None:
    engine = make_engine()
    issued = reader(engine)
    engine.check(get(issued.secret, "/v1/events/evt_42", request_id="req-1"))
    record = only(engine, issued.key.id)
    assert record.at == T0
    assert (record.request_id, record.code, record.status, record.allowed) == (
        "req-1",
        Code.OK,
        200,
        True,
    )
    assert (record.key_id, record.key_type, record.key_environment) == (
        issued.key.id,
        "read-only",
        "live",
    )
    assert (record.credential, record.method, record.path) == ("key", "GET", "/v1/events/evt_42")
    assert (record.resource, record.action, record.client) == (
        "events/evt_42",
        "read",
        "203.0.113.9",
    )
    assert (record.step, record.reason) == ("done", "events:read is granted")
    assert record.rule == "the scopes of key type 'read-only'"
    assert record.rule_location is not None
    assert "key_types.yaml:" in record.rule_location
    scope_step = next(step for step in record.trace if step.step == "scope")
    assert scope_step.detail.startswith(
        "events/evt_42:read is granted by the scopes of key type 'read-only' ("
    )
    assert record.limits[0].name == "default"
    assert (record.limits[0].remaining, record.limits[0].quota) == (599, 600)
    assert record.latency > 0
    assert record.policy == engine.prepared.digest
    assert record.environment == "live"
    assert record.id.startswith("dec_")


def test_a_rule_denial_names_the_rule_and_where_it_is_written(make_engine: EngineFactory) -> None:
    engine = make_engine()
    writer = engine.keys.create(type="write", label="w", environment="live")
    engine.check(
        Request(credential=writer.secret, method="POST", path="/v1/events", ip="192.0.2.1")
    )
    record = only(engine, writer.key.id)
    assert (record.code, record.step, record.rule) == (
        Code.DENIED_BY_POLICY,
        "rules",
        "live-writes-need-an-allow-list",
    )
    assert record.rule_location is not None
    assert record.rule_location.startswith(str(engine.directory))
    assert record.rule_location.rsplit(":", 1)[1].isdigit()


def test_requests_without_a_valid_key_are_kept_by_client_address(engine: Engine) -> None:
    engine.check(get(None, ip="198.51.100.7"))
    engine.check(get("tdoc_live_short", ip="198.51.100.8"))
    engine.check(get("tdoc_live_" + "A" * 36, ip="198.51.100.9"))
    engine.flush()
    page = engine.monitor.address_activity()
    assert [(r.client, r.code, r.credential) for r in page] == [
        ("198.51.100.9", Code.MALFORMED_CREDENTIAL, "key"),
        ("198.51.100.8", Code.MALFORMED_CREDENTIAL, "key"),
        ("198.51.100.7", Code.MISSING_CREDENTIAL, "none"),
    ]
    assert [r.client for r in engine.monitor.address_activity("198.51.100.8")] == ["198.51.100.8"]
    # IPv4 and its IPv4-mapped IPv6 form are one client.
    assert len(engine.monitor.address_activity("::ffff:198.51.100.8")) == 1


def test_without_a_request_id_the_record_gets_a_fresh_one(engine: Engine) -> None:
    engine.check(get(None))
    engine.check(get(None))
    engine.flush()
    ids = [r.request_id for r in engine.monitor.address_activity()]
    assert len(set(ids)) == 2
    assert all(rid.startswith("req_") and len(rid) == 32 for rid in ids)


def test_behind_a_trusted_proxy_the_forwarded_client_is_kept(make_engine: EngineFactory) -> None:
    engine = make_engine(trusted_proxies=["10.0.0.0/8"])
    engine.check(get(None, ip="10.0.0.2", headers={"X-Forwarded-For": "198.51.100.4, 10.0.0.9"}))
    assert only(engine).client == "198.51.100.4"


def test_a_check_by_resource_and_action_keeps_them(engine: Engine) -> None:
    issued = reader(engine)
    engine.check(
        Request(credential=issued.secret, resource="tasks/t1", action="read", ip="203.0.113.1")
    )
    record = only(engine, issued.key.id)
    assert (record.resource, record.action, record.method, record.path) == (
        "tasks/t1",
        "read",
        None,
        None,
    )


def test_a_lone_surrogate_is_kept_as_a_question_mark_and_holds_no_record_back(
    engine: Engine,
) -> None:
    """Only an embedding caller can pass one (HTTP cannot carry it), but no UTF-8 store
    takes it: one such request must not cost the records written with it."""
    issued = reader(engine)
    odd = "\ud800"
    engine.check(get(issued.secret, f"/v1/ev{odd}nts", request_id=f"req-{odd}"))
    engine.check(
        Request(credential=issued.secret, method=f"g{odd}t", path="/v1/events", ip="203.0.113.9")
    )
    engine.check(
        Request(
            credential=issued.secret, resource=f"tasks/t{odd}", action=f"re{odd}d", ip="203.0.113.9"
        )
    )
    engine.check(get(issued.secret))
    malformed = engine.check(get(issued.secret[:-1] + odd, ip="203.0.113.77"))
    assert malformed.code == Code.MALFORMED_CREDENTIAL
    engine.flush()
    every_code = [code.value for code in Code]
    kept = sorted(
        (r.method or "", r.path or "", r.resource or "", r.action or "", r.request_id)
        for r in engine.monitor.activity(issued.key.id, code=every_code)
    )
    assert [k[:4] for k in kept] == sorted(
        [
            ("GET", "/v1/ev?nts", "", ""),
            ("G?T", "/v1/events", "", ""),
            ("", "", "tasks/t?", "re?d"),
            ("GET", "/v1/events", "events", "read"),
        ]
    )
    assert "req-?" in [k[4] for k in kept]
    [refused] = engine.monitor.address_activity("203.0.113.77")
    assert refused.code == Code.MALFORMED_CREDENTIAL
    assert (engine.monitor.stats().written, engine.monitor.stats().lost) == (5, 0)


def test_a_token_check_is_kept_under_its_key(engine: Engine) -> None:
    issued = reader(engine)
    token = engine.tokens.issue(issued.secret, scopes=["events:read"], ttl="15m")
    engine.check(get(token))
    record = only(engine, issued.key.id)
    assert (record.credential, record.code) == ("token", Code.OK)


def test_replays_at_another_instant_are_not_recorded(engine: Engine) -> None:
    engine.check(get(None, time=T0))
    engine.flush()
    assert len(engine.monitor.address_activity()) == 0


@pytest.mark.parametrize(
    ("method", "path", "ip", "code"),
    [
        ("GET", "/v1/events", "203.0.113.9", Code.OK),
        ("GET", "/v1/events", "198.51.100.1", Code.IP_NOT_ALLOWED),
        # A missing scope where no allow rule applies (any key may read its own record, so
        # keys:read is not such a case).
        ("POST", "/v1/events", "203.0.113.9", Code.INSUFFICIENT_SCOPE),
        ("GET", "/v1/nowhere", "203.0.113.9", Code.DENIED_BY_POLICY),
    ],
)
def test_the_rebuilt_explanation_follows_the_checks_own_steps(
    engine: Engine, method: str, path: str, ip: str, code: Code
) -> None:
    issued = reader(engine)
    asked = Request(credential=issued.secret, method=method, path=path, ip=ip)
    live = engine.check(asked, explain=True)
    assert live.code is code
    record = only(engine, issued.key.id)
    assert live.trace is not None
    assert [(s.step, s.passed) for s in record.trace] == [(s.step, s.passed) for s in live.trace]
    assert record.trace[-1].detail.endswith(live.reason) or record.allowed


def test_the_explanation_of_a_keyless_denial_is_its_reason(engine: Engine) -> None:
    engine.check(get(None))
    (step,) = only(engine).trace
    assert (step.step, step.passed, step.detail) == (
        "credential",
        False,
        "no API key was presented",
    )


def test_a_rate_limited_check_says_so_in_its_last_step(engine: Engine) -> None:
    issued = reader(engine, rate_limit="1/minute")
    engine.check(get(issued.secret))
    engine.check(get(issued.secret))
    engine.flush()
    latest, first = engine.monitor.activity(issued.key.id, action="read")
    assert first.trace[-1].detail == "within limits: 0 of 1 left in 'default'"
    assert (latest.code, latest.trace[-1].step, latest.trace[-1].passed) == (
        Code.RATE_LIMITED,
        "rate",
        False,
    )
    assert latest.as_dict()["trace"][-1] == {
        "step": "rate",
        "passed": False,
        "detail": latest.reason,
    }


def test_a_queued_check_holds_plain_values_only(make_engine: EngineFactory) -> None:
    """Neither the credential nor the request and decision wait in the queue: a secret
    must not linger in memory, and whatever a queued item keeps alive the garbage collector
    walks again and again, which would slow every check down."""
    import policyengine.monitor.stream

    policyengine.monitor.stream.DEFAULT_INTERVAL = 3600.0
    try:
        engine = make_engine(trusted_proxies=[])
    finally:
        policyengine.monitor.stream.DEFAULT_INTERVAL = 0.2
    issued = reader(engine)
    engine.flush()
    request = get(issued.secret)
    decision = engine.check(request)
    stream = engine.monitor._stream
    assert stream is not None
    (captured,) = list(stream.queue)
    assert issued.secret not in repr(captured)
    kept = {type(value).__name__ for value in captured}
    assert not kept & {"Request", "Decision", "RateLimitHeaders", "list", "dict"}
    assert request not in captured
    assert decision not in captured
    engine.flush()
