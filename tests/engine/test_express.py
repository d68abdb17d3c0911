"""The common check's short path decides exactly as the full path: two engines over the
same policies, keys of the same kinds and one clock, one with the short path and one
without, asked the same things in the same order, give the same decisions."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from conftest import POLICIES, SECRET, Clock, RemoteLimiter
from hypothesis import given, settings
from hypothesis import strategies as st

from policyengine import Decision, Engine, Request
from policyengine.decision import Step
from policyengine.errors import KeyConflict, StorageError
from policyengine.limits import MemoryLimiter
from policyengine.policy.loader import load_directory
from policyengine.record import Usage

TDOC = load_directory(POLICIES)

#: Each kind of key, by name: what it is created with.
KINDS: dict[str, dict[str, Any]] = {
    "reader": {"type": "read-only", "allowed_ips": ["203.0.113.0/24"]},
    "tight": {"type": "read-only", "rate_limit": "2/minute"},
    "writer": {"type": "write", "allowed_ips": ["203.0.113.0/24"]},
    "open-writer": {"type": "write", "allowed_ips": []},
    "test": {"type": "read-only", "environment": "test"},
    "brief": {"type": "read-only", "expires_in": "90s"},
    "credits": {"type": "read-only", "usage": Usage(credits=3, refill="daily")},
}
ROUTES = (
    ("GET", "/v1/events"),
    ("POST", "/v1/events"),
    ("DELETE", "/v1/events/evt_1"),
    ("POST", "/v1/tasks/t_1/runs"),
    ("GET", "/v1/nothing"),
    ("GET", "/v1/events/../keys"),
    ("GET", "/v1/decisions"),  # not metered
)
ADDRESSES = ("203.0.113.9", "198.51.100.7", "not-an-address", None)
HEADERS = ({}, {"x-forwarded-for": "198.51.100.7"})
MODES = ("check", "try_check", "dry_run", "explain", "replay")


@dataclass
class Twin:
    engine: Engine
    secrets: dict[str, str]

    def secret(self, name: str) -> str | None:
        if name == "unknown":
            return self.engine.keys.key_format.generate("live")
        if name == "malformed":
            return self.secrets["reader"][:-1] + ("A" if self.secrets["reader"][-1] != "A" else "B")
        if name == "none":
            return None
        return self.secrets[name]

    def key_id(self, name: str) -> str:
        record = self.engine.keys.lookup(self.secrets[name], touch=False)
        assert record is not None
        return record.id


@contextmanager
def twins(clock: Clock, **options: Any) -> Iterator[tuple[Twin, Twin]]:
    made = []
    try:
        for _ in range(2):
            engine = Engine(
                TDOC,
                environment="live",
                store="memory://",
                secret=SECRET,
                clock=clock,
                maintenance_interval=None,
                trusted_proxies=["203.0.113.0/24"],
                handle_signals=False,
                **{"monitor": "off", **options},
            )
            made.append(engine)
        pair = []
        for engine in made:
            secrets = {}
            for name, fields in KINDS.items():
                options = {"label": name, "environment": "live", **fields}
                secrets[name] = engine.keys.create(**options).secret
            pair.append(Twin(engine, secrets))
        # The second decides every check by the full path.
        made[1]._express = lambda request, wait: None  # type: ignore[method-assign]
        yield pair[0], pair[1]
    finally:
        for engine in made:
            engine.close()


def seen(decision: Decision | None) -> tuple[object, ...] | None:
    """What a caller sees of a decision, but the key's id (the twins' keys differ)."""
    if decision is None:
        return None
    key = decision.key
    return (
        decision.allowed,
        decision.code,
        decision.reason.replace(key.id, "<id>") if key else decision.reason,
        decision.step,
        decision.rule,
        None if key is None else (key.type, key.environment, key.expires_at),
        dict(decision.headers),
        decision.trace,
        decision.error,
    )


targets = st.tuples(
    st.sampled_from([*KINDS, "unknown", "malformed", "none"]), st.sampled_from(ROUTES)
)
changes = st.tuples(
    st.sampled_from(["revoke", "disable", "enable"]), st.sampled_from(sorted(KINDS))
)
waits = st.tuples(st.just("wait"), st.sampled_from([0, 1, 31, 61, 3600, 86400]))


@st.composite
def scripts(draw: st.DrawFn) -> list[tuple[Any, ...]]:
    """Steps that ask a few requests again and again, in several ways, between changes
    to the keys and the passing of time."""
    pool = draw(st.lists(targets, min_size=1, max_size=3))
    asks = st.tuples(
        st.just("ask"),
        st.sampled_from(pool),
        st.sampled_from(ADDRESSES),
        st.sampled_from(HEADERS),
        st.sampled_from(MODES),
    )
    return draw(st.lists(st.one_of(asks, asks, asks, changes, waits), min_size=1, max_size=40))


def _ask(
    twin: Twin, name: str, route: tuple[str, str], ip: str | None, headers: Any, mode: str
) -> Any:
    engine = twin.engine
    at = engine._clock() + timedelta(minutes=2) if mode == "replay" else None
    asked = Request(twin.secret(name), route[0], route[1], ip=ip, headers=headers, time=at)
    if mode == "try_check":
        return engine.try_check(asked)
    if mode == "dry_run":
        return engine.check(asked, dry_run=True)
    return engine.check(asked, explain=mode == "explain")


@settings(max_examples=150, deadline=None)
@given(scripts())
def test_the_short_path_decides_as_the_full_path(script: list[tuple[Any, ...]]) -> None:
    clock = Clock()
    with twins(clock) as (fast, full):
        for step in script:
            if step[0] == "wait":
                clock.advance(step[1])
            elif step[0] == "ask":
                (name, route), ip, headers, mode = step[1:]
                if name == "unknown":
                    # The same unknown key to both: the first asking makes the cache know it.
                    secret = fast.secret(name)
                    got = [
                        seen(t.engine.check(Request(secret, *route, ip=ip, headers=headers)))
                        for t in (fast, full)
                    ]
                else:
                    got = [seen(_ask(t, name, route, ip, headers, mode)) for t in (fast, full)]
                assert got[0] == got[1], step
            else:
                action, name = step
                refused = []
                for twin in (fast, full):
                    try:
                        getattr(twin.engine.keys, action)(twin.key_id(name))
                    except KeyConflict:  # an ended key cannot be disabled or enabled
                        refused.append(twin)
                assert len(refused) in (0, 2), step


def test_a_check_asked_again_takes_the_short_path() -> None:
    clock = Clock()
    with twins(clock) as (fast, _):
        engine = fast.engine
        asked = Request(fast.secret("tight"), "GET", "/v1/events", ip="203.0.113.9")
        assert engine._express(asked, True) is None  # nothing is kept yet
        first = engine.check(asked)
        again = engine._express(asked, True)
        assert again is not None
        assert again.allowed
        assert first.allowed
        # The short path used the limit: two a minute, so the third is refused.
        third = engine.check(asked)
        assert third.code == "RATE_LIMITED"
        assert third.headers["RateLimit-Policy"] == first.headers["RateLimit-Policy"]
        unknown = Request(fast.secret("unknown"), "GET", "/v1/events", ip="203.0.113.9")
        assert engine.check(unknown).code == "NOT_FOUND"
        refused = engine._express(unknown, True)
        assert refused is not None
        assert refused.code == "NOT_FOUND"


def test_a_key_used_only_by_the_short_path_has_its_last_use_written() -> None:
    clock = Clock()
    # The cache's time is the engine's clock: an entry that outlives the minute.
    with twins(clock, cache_ttl=600) as (fast, _):
        engine = fast.engine
        asked = Request(fast.secret("reader"), "GET", "/v1/events", ip="203.0.113.9")
        assert engine.check(asked).allowed
        clock.advance(120)
        assert engine._express(asked, True) is not None
        engine.flush()
        record = engine.keys.get(fast.key_id("reader"))
        assert record.last_used_at == clock.now.replace(second=0, microsecond=0)


def test_try_check_leaves_a_limiter_across_the_network_to_check() -> None:
    clock = Clock()
    with twins(clock) as (fast, _):
        engine = fast.engine
        engine.limiter = RemoteLimiter()
        asked = Request(fast.secret("reader"), "GET", "/v1/events", ip="203.0.113.9")
        assert engine.check(asked).allowed
        assert engine.try_check(asked) is None  # the limiter would make it wait
        assert engine.check(asked).allowed
        # A request refused before the limits needs no limiter: it is decided at once.
        outside = Request(fast.secret("reader"), "GET", "/v1/events", ip="198.51.100.7")
        assert engine.check(outside).code == "IP_NOT_ALLOWED"
        decided = engine.try_check(outside)
        assert decided is not None
        assert decided.code == "IP_NOT_ALLOWED"


def _sweep(fast: Twin, full: Twin, when: str) -> None:
    """Every request of every kind, in every mode, asked twice: the first asking keeps
    the answers that the second finds."""
    names = [*KINDS, "unknown", "malformed", "none"]
    for _ in range(2):
        for name in names:
            for route in ROUTES:
                for ip in ADDRESSES:
                    for headers in HEADERS:
                        for mode in MODES:
                            got = [
                                seen(_ask(t, name, route, ip, headers, mode)) for t in (fast, full)
                            ]
                            assert got[0] == got[1], (when, name, route, ip, headers, mode)


def test_every_request_is_decided_as_by_the_full_path_through_a_key_s_life() -> None:
    clock = Clock()
    with twins(clock) as (fast, full):
        _sweep(fast, full, "new keys")
        clock.advance(61)  # past the brief key's expiry, and a new minute for the limits
        _sweep(fast, full, "a minute later")
        for action, name in (("disable", "writer"), ("revoke", "tight"), ("revoke", "reader")):
            for twin in (fast, full):
                getattr(twin.engine.keys, action)(twin.key_id(name))
            _sweep(fast, full, f"{action} {name}")
        for twin in (fast, full):
            twin.engine.keys.enable(twin.key_id("writer"))
        clock.advance(86400)  # a new day of credits
        _sweep(fast, full, "a day later")


class OutageLimiter(MemoryLimiter):
    """A memory limiter whose storage can be made to fail."""

    down = False
    broken = False

    def acquire(self, key_id: str, limits: Any, usage: Any, now: float) -> Any:
        if self.down:
            raise StorageError("rate-limit store failed: connection refused")
        if self.broken:
            raise RuntimeError("a bug in the limiter")
        return super().acquire(key_id, limits, usage, now)


def test_a_limiter_assigned_or_patched_after_checks_is_the_one_repeated_checks_ask() -> None:
    clock = Clock()
    with twins(clock) as (fast, _):
        engine = fast.engine
        asked = Request(fast.secret("reader"), "GET", "/v1/events", ip="203.0.113.9")
        for _ in range(2):  # the second check is answered by the short path
            assert engine.check(asked).allowed
        limiter = OutageLimiter()
        limiter.down = True
        engine.limiter = limiter
        assert engine.limiter is limiter
        for _ in range(2):
            assert engine.check(asked).code == "UNAVAILABLE"
        limiter.down = False
        for _ in range(2):
            assert engine.check(asked).allowed

        def down(*args: Any) -> Any:
            raise StorageError("rate-limit store failed: patched out")

        limiter.acquire = down  # type: ignore[method-assign]
        for _ in range(2):
            refused = engine.check(asked)
            assert refused.code == "UNAVAILABLE"
            assert refused.error == "rate-limit store failed: patched out"


def test_a_limiter_outage_on_the_short_path_fails_closed_with_the_reason() -> None:
    clock = Clock()
    with twins(clock) as (fast, _):
        engine = fast.engine
        limiter = OutageLimiter()
        engine.limiter = limiter
        asked = Request(fast.secret("reader"), "GET", "/v1/events", ip="203.0.113.9")
        assert engine.check(asked).allowed
        limiter.down = True
        refused = engine._express(asked, True)
        assert refused is not None
        assert (refused.allowed, refused.code, refused.step) == (False, "UNAVAILABLE", "rate")
        assert refused.reason == "the rate limiter is unavailable"
        assert refused.error == "rate-limit store failed: connection refused"
        assert refused.rule is None
        assert refused.key is not None
        assert refused.key.type == "read-only"
        limiter.down, limiter.broken = False, True
        failed = engine._express(asked, True)
        assert failed is not None
        assert (failed.allowed, failed.code, failed.step) == (False, "UNAVAILABLE", "engine")
        assert failed.error == "RuntimeError: a bug in the limiter"


@pytest.mark.parametrize(
    ("remote", "wait"),
    [(False, True), (False, False), (True, True)],
    ids=["check", "try_check, limits in memory", "check, a limiter across the network"],
)
def test_a_repeated_request_takes_the_short_path(remote: bool, wait: bool) -> None:
    clock = Clock()
    with twins(clock) as (fast, _):
        engine = fast.engine
        if remote:
            engine.limiter = RemoteLimiter()
        asked = Request(fast.secret("reader"), "GET", "/v1/events", ip="203.0.113.9")
        assert engine.check(asked).allowed
        answered = engine._express(asked, wait)
        assert answered is not None
        assert answered.allowed


def test_a_key_is_refused_at_the_very_instant_it_expires() -> None:
    clock = Clock()
    with twins(clock, cache_ttl=600) as (fast, full):
        for twin in (fast, full):
            asked = Request(twin.secret("brief"), "GET", "/v1/events", ip="203.0.113.9")
            assert twin.engine.check(asked).allowed
        clock.advance(90)  # the brief key expires 90 s after it was made: now
        for twin in (fast, full):
            asked = Request(twin.secret("brief"), "GET", "/v1/events", ip="203.0.113.9")
            assert twin.engine.check(asked).code == "EXPIRED"


def test_refusals_of_the_short_path_say_what_the_full_path_says() -> None:
    clock = Clock()
    with twins(clock) as (fast, full):
        unknown = fast.secret("unknown")
        for twin in (fast, full):
            engine = twin.engine
            asked = Request(unknown, "GET", "/v1/events", ip="203.0.113.9")
            engine.check(asked)  # the store says no such key; the cache remembers it
            refused = engine.check(asked)
            assert (refused.code, refused.step, refused.reason) == (
                "NOT_FOUND",
                "key",
                "no such key",
            )
            assert refused.rule is not None
            assert refused.rule.name == "key"
            assert refused.key is None
            malformed = Request(twin.secret("malformed"), "GET", "/v1/events")
            refused = engine.check(malformed)
            assert (refused.code, refused.step) == ("MALFORMED_CREDENTIAL", "credential")
            assert (
                refused.reason
                == "malformed API key: its checksum does not match (was it mistyped?)"
            )
            assert refused.rule is not None
            assert refused.rule.name == "credential"


def test_a_credential_no_key_could_be_is_malformed_on_both_paths() -> None:
    clock = Clock()
    with twins(clock, monitor="memory://") as (fast, full):
        secret = fast.secret("reader")
        for twin in (fast, full):
            # A lone surrogate cannot be encoded to be hashed, and no key holds one.
            for credential in ("\ud800" * len(secret), secret[:-1] + "\ud800"):
                asked = Request(credential, "GET", "/v1/events", ip="203.0.113.9")
                refused = twin.engine.check(asked)
                assert (refused.allowed, refused.code, refused.step) == (
                    False,
                    "MALFORMED_CREDENTIAL",
                    "credential",
                )
                assert refused.error is None


def test_the_short_path_logs_each_decision_at_debug_level(caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock()
    with twins(clock) as (fast, _):
        engine = fast.engine
        asked = Request(fast.secret("reader"), "GET", "/v1/events", ip="203.0.113.9")
        engine.check(asked)
        key_id = fast.key_id("reader")
        with caplog.at_level(logging.DEBUG, logger="policyengine"):
            assert engine._express(asked, True) is not None
        assert [r.getMessage() for r in caplog.records if r.name == "policyengine"] == [
            f"decision OK 200 key={key_id} step=done"
        ]
        caplog.clear()
        with caplog.at_level(logging.DEBUG, logger="policyengine"):
            engine.check(Request(None, "GET", "/v1/events"))
        assert [r.getMessage() for r in caplog.records if r.name == "policyengine"] == [
            "decision MISSING_CREDENTIAL 401 key=- step=credential"
        ]


def test_a_check_on_the_short_path_is_recorded_with_its_own_latency() -> None:
    clock = Clock()
    with twins(clock, monitor="memory://") as (fast, _):
        engine = fast.engine
        asked = Request(fast.secret("reader"), "GET", "/v1/events", ip="203.0.113.9")
        engine.check(asked)
        assert engine._express(asked, True) is not None
        engine.flush()
        records = engine.monitor.decisions(fast.key_id("reader")).items
        assert len(records) == 2
        for record in records:
            assert 0 < record.latency < 1.0  # seconds: the check's, not the clock's reading
            assert record.at == clock.now


def test_a_key_over_its_limits_is_told_which_and_why() -> None:
    clock = Clock()
    with twins(clock) as (fast, _):
        engine = fast.engine
        tight = Request(fast.secret("tight"), "GET", "/v1/events", ip="203.0.113.9")
        for _ in range(2):
            assert engine.check(tight).allowed
        for explain in (False, False, True):  # the second on the short path
            refused = engine.check(tight, explain=explain)
            assert (refused.allowed, refused.status) == (False, 429)
            assert (refused.code, refused.step) == ("RATE_LIMITED", "rate")
            assert refused.reason == "over the rate limit (default)"
            assert refused.rule is None
            if explain:
                assert refused.trace is not None
                assert refused.trace[-1] == Step("rate", False, "over the rate limit (default)")
            else:
                assert refused.trace is None
        credits = Request(fast.secret("credits"), "GET", "/v1/events", ip="203.0.113.9")
        for _ in range(3):
            assert engine.check(credits).allowed
        for explain in (False, False, True):
            refused = engine.check(credits, explain=explain)
            assert (refused.allowed, refused.status) == (False, 429)
            assert (refused.code, refused.step) == ("USAGE_EXCEEDED", "usage")
            assert refused.reason == "the key's usage credits are spent"
            if explain:
                assert refused.trace is not None
                assert refused.trace[-1] == Step(
                    "usage", False, "the key's usage credits are spent"
                )


def test_a_forwarded_client_is_judged_afresh_after_its_proxy_was_let_in() -> None:
    clock = Clock()
    with twins(clock) as (fast, full):
        for twin in (fast, full):
            engine = twin.engine
            proxy = Request(twin.secret("reader"), "GET", "/v1/events", ip="203.0.113.9")
            assert engine.check(proxy).allowed
            assert engine.check(proxy).allowed  # kept, and recalled
            forwarded = Request(
                twin.secret("reader"),
                "GET",
                "/v1/events",
                ip="203.0.113.9",
                headers={"x-forwarded-for": "198.51.100.7"},
            )
            for _ in range(2):
                refused = engine.check(forwarded)
                assert (refused.code, refused.step) == ("IP_NOT_ALLOWED", "ip")
                assert refused.reason.startswith("198.51.100.7 is outside")


def test_a_rotated_key_is_refused_once_its_grace_ends_though_it_expires_later() -> None:
    clock = Clock()
    with twins(clock, cache_ttl=3600) as (fast, full):
        for twin in (fast, full):
            engine = twin.engine
            old = Request(twin.secret("brief"), "GET", "/v1/events", ip="203.0.113.9")
            engine.keys.rotate(twin.key_id("brief"), grace="30s")  # expires in 90 s
            assert engine.check(old).allowed
            assert engine.check(old).allowed  # kept, until the grace ends
        clock.advance(31)
        for twin in (fast, full):
            old = Request(twin.secret("brief"), "GET", "/v1/events", ip="203.0.113.9")
            assert twin.engine.check(old).code == "REVOKED"


def test_a_replay_between_a_key_s_expiry_and_its_revocation_finds_it_expired() -> None:
    clock = Clock()
    with twins(clock, cache_ttl=3600) as (fast, full):
        made = clock.now
        clock.advance(100)  # the brief key expired at 90 s
        for twin in (fast, full):
            twin.engine.keys.revoke(twin.key_id("brief"))
        for twin in (fast, full):
            now = Request(twin.secret("brief"), "GET", "/v1/events", ip="203.0.113.9")
            assert twin.engine.check(now).code == "REVOKED"  # kept from its revocation on
            then = Request(
                twin.secret("brief"),
                "GET",
                "/v1/events",
                ip="203.0.113.9",
                time=made + timedelta(seconds=95),
            )
            assert twin.engine.check(then).code == "EXPIRED"
