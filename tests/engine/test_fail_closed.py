"""Failures deny: a limiter or store that is down, a rule that raises, no policies."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import pytest
from conftest import POLICIES, SECRET, Clock, edited_policies

from policyengine.decision import Code, Decision, Step
from policyengine.engine import Engine
from policyengine.errors import StorageError
from policyengine.keys.hashing import KeyHasher
from policyengine.keys.manager import KeyManager
from policyengine.keys.memory import MemoryStore
from policyengine.keys.store import KeyQuery, StoredKey
from policyengine.policy.loader import load_directory
from policyengine.policy.model import PolicySet
from policyengine.record import KeyRecord
from policyengine.request import Request

CLIENT = "203.0.113.9"


def get(secret: str) -> Request:
    return Request(credential=secret, method="GET", path="/v1/events", ip=CLIENT)


class FailingStore(MemoryStore):
    """A store that works until ``down`` is set, then fails as an unreachable server does."""

    in_process = False  # a server's stand-in: it may keep its caller waiting
    down = False

    def _check(self) -> None:
        if self.down:
            raise StorageError("could not connect to the key store")

    def get_by_hash(self, key_hash: str) -> StoredKey | None:
        self._check()
        return super().get_by_hash(key_hash)

    def get(self, key_id: str) -> KeyRecord | None:
        self._check()
        return super().get(key_id)

    def list(self, query: KeyQuery) -> Sequence[KeyRecord]:
        self._check()
        return super().list(query)

    def touch(self, used: Mapping[str, datetime]) -> None:
        self._check()
        super().touch(used)


def test_a_limiter_that_cannot_be_reached_denies(clock: Clock) -> None:
    with Engine.from_directory(
        POLICIES,
        environment="live",
        store="memory://",
        secret=SECRET,
        clock=clock,
        limiter="redis://127.0.0.1:1/0",
    ) as engine:
        issued = engine.keys.create(type="read-only", label="x", environment="live")
        decision = engine.check(get(issued.secret))
        assert not decision.allowed
        assert (decision.code, decision.status) == (Code.UNAVAILABLE, 503)
        assert decision.error is not None


def test_a_limit_may_choose_to_fail_open(clock: Clock, tmp_path) -> None:
    policies = edited_policies(
        tmp_path,
        "key_types.yaml",
        "rate_limit: 600/minute",
        "rate_limit: {limit: 600, per: minute, on_error: allow}",
    )
    with Engine.from_directory(
        policies,
        environment="live",
        store="memory://",
        secret=SECRET,
        clock=clock,
        limiter="redis://127.0.0.1:1/0",
    ) as engine:
        reader = engine.keys.create(type="read-only", label="r", environment="live")
        writer = engine.keys.create(type="write", label="w", environment="live")
        assert engine.check(get(reader.secret)).allowed
        assert engine.check(get(writer.secret)).code is Code.UNAVAILABLE


def test_a_key_store_that_fails_denies(clock: Clock) -> None:
    store = FailingStore()
    policy = load_directory(POLICIES)
    keys = KeyManager(
        store,
        lambda: policy,
        hasher=KeyHasher(SECRET),
        clock=clock,
        cache_ttl=0,
        maintenance_interval=None,
    )
    with Engine(policy, environment="live", keys=keys, clock=clock) as engine:
        issued = engine.keys.create(type="read-only", label="x", environment="live")
        assert engine.check(get(issued.secret)).allowed
        store.down = True
        decision = engine.check(get(issued.secret))
        assert (decision.code, decision.status) == (Code.UNAVAILABLE, 503)
        assert "could not connect" in (decision.error or "")
        assert not decision.allowed
        assert (decision.step, decision.reason) == ("key", "the key store is unavailable")


def test_an_exception_inside_a_rule_denies(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    issued = engine.keys.create(type="write", label="w", environment="live", allowed_ips=[CLIENT])
    rule = engine.prepared._rules[0]

    def broken(key: object, req: object) -> bool:
        raise ZeroDivisionError("division by zero")

    failing = replace(rule, test=broken)
    names = dict.fromkeys(rule.rule.resources)
    monkeypatch.setattr(engine.prepared, "_rules", (failing,))
    monkeypatch.setattr(engine.prepared, "_by_resource", {name: [failing] for name in names})
    monkeypatch.setattr(engine.prepared, "_order", {id(failing): 0})
    decision = engine.check(
        Request(credential=issued.secret, method="POST", path="/v1/events", ip=CLIENT)
    )
    assert (decision.code, decision.status) == (Code.UNAVAILABLE, 503)
    assert decision.rule is not None
    assert decision.rule.name == "live-writes-need-an-allow-list"
    assert "ZeroDivisionError" in (decision.error or "")


def test_a_rule_that_failed_once_is_tried_again_on_the_next_check(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A failure is not an answer to remember: the next check asks the rule again."""
    issued = engine.keys.create(type="write", label="w", environment="live", allowed_ips=[CLIENT])
    rule = engine.prepared._rules[0]
    failures = [ZeroDivisionError("division by zero")]

    def flaky(key: object, req: object) -> bool:
        if failures:
            raise failures.pop()
        return rule.test(key, req)

    failing = replace(rule, test=flaky)
    names = dict.fromkeys(rule.rule.resources)
    monkeypatch.setattr(engine.prepared, "_rules", (failing,))
    monkeypatch.setattr(engine.prepared, "_by_resource", {name: [failing] for name in names})
    monkeypatch.setattr(engine.prepared, "_order", {id(failing): 0})
    asked = Request(credential=issued.secret, method="POST", path="/v1/events", ip=CLIENT)
    assert engine.check(asked).code is Code.UNAVAILABLE
    assert engine.check(asked).code is Code.OK


def test_an_error_anywhere_in_the_engine_denies(
    engine: Engine, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    issued = engine.keys.create(type="read-only", label="r", environment="live")
    assert engine.check(get(issued.secret)).allowed  # its answer is kept for the short path
    _limiter_fails(engine, monkeypatch, RuntimeError("unexpected"))
    caplog.set_level("WARNING", logger="policyengine")
    for decision in _both_paths(engine, get(issued.secret)):
        assert (decision.code, decision.status) == (Code.UNAVAILABLE, 503)
        assert not decision.allowed
        assert (decision.step, decision.reason, decision.error) == (
            "engine",
            "the engine could not decide",
            "RuntimeError: unexpected",
        )
    assert caplog.messages.count("check failed: RuntimeError: unexpected") == 2


def test_a_key_lookup_that_raises_denies_on_both_paths(
    engine: Engine, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    issued = engine.keys.create(type="read-only", label="r", environment="live")
    assert engine.check(get(issued.secret)).allowed  # its answer is kept for the short path

    class BrokenHasher:
        def digest(self, secret: str) -> bytes:
            raise RuntimeError("the hasher broke")

    monkeypatch.setattr(engine.keys.lookups, "_hasher", BrokenHasher())
    caplog.set_level("WARNING", logger="policyengine")
    fast = engine.try_check(get(issued.secret))
    for decision in (fast, *_both_paths(engine, get(issued.secret))):
        assert decision is not None
        assert (decision.code, decision.status) == (Code.UNAVAILABLE, 503)
        assert not decision.allowed
        assert (decision.step, decision.reason, decision.error) == (
            "engine",
            "the engine could not decide",
            "RuntimeError: the hasher broke",
        )
    assert caplog.messages.count("check failed: RuntimeError: the hasher broke") == 3


def test_an_empty_policy_set_denies_everything(clock: Clock) -> None:
    with Engine(PolicySet(key_types={}), store="memory://", secret=SECRET, clock=clock) as engine:
        decision = engine.check(get("tdoc_live_" + "a" * 36))
        assert (decision.code, decision.status) == (Code.UNAVAILABLE, 503)
        assert decision.error == "the policy set is empty"
        assert not decision.allowed
        assert (decision.step, decision.reason) == ("policy", "no policies are loaded")


def test_no_secret_and_no_authorization_value_reaches_the_logs(
    engine: Engine, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    caplog.set_level(logging.DEBUG)
    issued = engine.keys.create(type="write", label="logged", environment="live")
    secrets = [issued.secret, issued.secret[10:40]]
    requests = [
        get(issued.secret),
        Request(credential=issued.secret, method="POST", path="/v1/events", ip=CLIENT),
        Request(credential=issued.secret, method="GET", path="/v1/events", ip="garbage"),
        Request(
            credential=issued.secret,
            method="GET",
            path="/v1/events",
            ip=CLIENT,
            headers={"Authorization": f"Bearer {issued.secret}"},
        ),
        Request(credential=issued.secret[:-1], method="GET", path="/v1/events", ip=CLIENT),
    ]
    for request in requests:
        engine.check(request, explain=True)
    monkeypatch.setattr(engine.limiter, "acquire", lambda *a, **k: 1 / 0)
    engine.check(get(issued.secret))
    assert caplog.records, "the engine logs its decisions at DEBUG"
    text = "\n".join(r.getMessage() + repr(r.args) for r in caplog.records)
    for secret in secrets:
        assert secret not in text
    assert "Bearer" not in text


def _limiter_fails(engine: Engine, monkeypatch: pytest.MonkeyPatch, error: Exception) -> None:
    def down(*_: object, **__: object) -> None:
        raise error

    monkeypatch.setattr(engine.limiter, "acquire", down)


def _both_paths(engine: Engine, request: Request) -> list[Decision]:
    """The decision explained (the full path) and asked plainly again (the short path, once
    an answer for the request is kept)."""
    return [engine.check(request, explain=True), engine.check(request)]


@contextmanager
def _limited(clock: Clock, tmp_path: Path, limits: str) -> Iterator[Engine]:
    """An engine whose read-only keys have ``limits`` in place of 600/minute."""
    policies = edited_policies(tmp_path, "key_types.yaml", "rate_limit: 600/minute", limits)
    with Engine.from_directory(
        policies, environment="live", store="memory://", secret=SECRET, clock=clock
    ) as engine:
        yield engine


def test_a_limiter_that_fails_denies_at_the_rate_step_with_what_failed(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    issued = engine.keys.create(type="read-only", label="x", environment="live")
    assert engine.check(get(issued.secret)).allowed
    _limiter_fails(engine, monkeypatch, StorageError("redis is down"))
    explained, again = _both_paths(engine, get(issued.secret))
    for decision in (explained, again):
        assert (decision.allowed, decision.code, decision.step, decision.rule) == (
            False,
            Code.UNAVAILABLE,
            "rate",
            None,
        )
        assert (decision.reason, decision.error) == (
            "the rate limiter is unavailable",
            "redis is down",
        )
    assert explained.trace is not None
    assert explained.trace[-1] == Step("rate", False, "the rate limiter is unavailable")


def test_a_limit_that_fails_open_says_so_in_the_trace_and_the_log(
    clock: Clock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    with _limited(
        clock, tmp_path, "rate_limit: {limit: 600, per: minute, on_error: allow}"
    ) as engine:
        issued = engine.keys.create(type="read-only", label="r", environment="live")
        assert engine.check(get(issued.secret)).allowed
        _limiter_fails(engine, monkeypatch, StorageError("redis is down"))
        caplog.set_level("WARNING", logger="policyengine")
        explained, again = _both_paths(engine, get(issued.secret))
    for decision in (explained, again):
        assert (decision.allowed, decision.code, decision.error) == (True, Code.OK, None)
        assert decision.headers == {}  # no limiter answered, so no RateLimit headers
    assert explained.trace is not None
    assert explained.trace[-1] == Step("rate", True, "limiter unavailable; fail open")
    warning = f"limiter unavailable; {issued.key.id} is let through unmetered"
    assert caplog.messages.count(warning) == 2


def test_a_key_over_its_rate_is_denied_at_the_rate_step_naming_the_limit(engine: Engine) -> None:
    issued = engine.keys.create(type="read-only", label="x", environment="live")
    for _ in range(600):
        assert engine.check(get(issued.secret)).allowed
    decision = engine.check(get(issued.secret), explain=True)
    assert not decision.allowed
    assert (decision.code, decision.step, decision.reason) == (
        Code.RATE_LIMITED,
        "rate",
        "over the rate limit (default)",
    )
    assert decision.trace is not None
    assert decision.trace[-1] == Step("rate", False, "over the rate limit (default)")
    assert decision.headers["Retry-After"] == "1"


def test_a_key_out_of_credits_is_denied_at_the_usage_step(clock: Clock, tmp_path: Path) -> None:
    with _limited(
        clock, tmp_path, "rate_limit: 600/minute\n    usage: {credits: 2, refill: daily}"
    ) as engine:
        issued = engine.keys.create(type="read-only", label="r", environment="live")
        assert engine.check(get(issued.secret)).allowed
        assert engine.check(get(issued.secret), explain=True).trace[-1] == Step(  # type: ignore[index]
            "rate", True, "within limits"
        )
        decision = engine.check(get(issued.secret))
    assert not decision.allowed
    assert (decision.code, decision.step, decision.reason) == (
        Code.USAGE_EXCEEDED,
        "usage",
        "the key's usage credits are spent",
    )


def test_credits_fail_closed_even_where_every_limit_fails_open(
    clock: Clock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    limits = "rate_limit: {limit: 600, per: minute, on_error: allow}\n    usage: {credits: 5, refill: daily}"
    with _limited(clock, tmp_path, limits) as engine:
        issued = engine.keys.create(type="read-only", label="r", environment="live")
        assert engine.check(get(issued.secret)).allowed
        _limiter_fails(engine, monkeypatch, StorageError("redis is down"))
        decisions = _both_paths(engine, get(issued.secret))
    for decision in decisions:
        assert not decision.allowed
        assert (decision.code, decision.step, decision.error) == (
            Code.UNAVAILABLE,
            "rate",
            "redis is down",
        )


def test_a_key_store_that_fails_to_note_last_use_is_logged_and_the_monitor_still_flushed(
    clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    store = FailingStore()
    policy = load_directory(POLICIES)
    keys = KeyManager(
        store, lambda: policy, hasher=KeyHasher(SECRET), clock=clock, maintenance_interval=None
    )
    with Engine(policy, environment="live", keys=keys, clock=clock, monitor="memory://") as engine:
        issued = engine.keys.create(type="read-only", label="x", environment="live")
        assert engine.check(get(issued.secret)).allowed
        store.down = True
        caplog.set_level("WARNING", logger="policyengine")
        assert engine.flush(timeout=5) is True
        assert (
            "could not write the keys' last use: could not connect to the key store"
            in caplog.messages
        )
        assert engine.monitor.activity(issued.key.id, code=["OK"])
        store.down = False


def test_a_flush_the_monitor_cannot_finish_gives_up_after_its_timeout(
    clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    with Engine.from_directory(
        POLICIES,
        environment="live",
        store="memory://",
        secret=SECRET,
        clock=clock,
        monitor="memory://",
        maintenance_interval=None,
    ) as engine:
        issued = engine.keys.create(type="read-only", label="x", environment="live")
        released = threading.Event()
        store = engine.monitor._store
        write = store.write  # type: ignore[union-attr]

        def stuck(batch: object) -> object:
            released.wait(10)
            return write(batch)  # type: ignore[arg-type]

        monkeypatch.setattr(store, "write", stuck)
        engine.check(get(issued.secret))
        flushed: list[bool] = []
        flushing = threading.Thread(target=lambda: flushed.append(engine.flush(timeout=0.2)))
        flushing.start()
        flushing.join(5)
        released.set()
        flushing.join(10)
    assert flushed == [False]
