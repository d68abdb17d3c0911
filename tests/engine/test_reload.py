"""Reloading policies while requests flow, and several processes sharing one limit."""

from __future__ import annotations

import multiprocessing
import shutil
import threading
import time
from pathlib import Path

import pytest
from conftest import POLICIES, SECRET, Clock, require_redis
from engine_hammer import hammer

from policyengine.decision import Code
from policyengine.engine import Engine
from policyengine.errors import InvalidValue, PolicyError
from policyengine.policy.loader import load_directory
from policyengine.request import Request


def copy_policies(tmp_path: Path, name: str) -> Path:
    target = tmp_path / name
    shutil.copytree(POLICIES, target)
    return target


def test_reload_swaps_policies_atomically_while_checks_run(tmp_path: Path) -> None:
    old = copy_policies(tmp_path, "old")
    new = copy_policies(tmp_path, "new")
    types = new / "key_types.yaml"
    types.write_text(
        types.read_text().replace('["events:read", "tasks:read", "hooks:read"]', '["tasks:read"]')
    )
    with Engine.from_directory(old, environment="live", store="memory://", secret=SECRET) as engine:
        issued = engine.keys.create(
            type="read-only", label="r", environment="live", rate_limit="1000000/minute"
        )
        request = Request(
            credential=issued.secret, method="GET", path="/v1/events", ip="203.0.113.9"
        )
        seen: list[Code] = []
        stop = threading.Event()

        def hammer() -> None:
            for _ in range(20000):
                seen.append(engine.check(request).code)
                if stop.is_set():
                    return

        worker = threading.Thread(target=hammer)
        worker.start()
        for _ in range(20):
            engine.reload(new)
            engine.reload(old)
        engine.reload(new)
        stop.set()
        worker.join(timeout=60)
        assert not worker.is_alive()
        assert set(seen) <= {Code.OK, Code.INSUFFICIENT_SCOPE}
        assert engine.check(request).code is Code.INSUFFICIENT_SCOPE
        assert engine.policy_set().digest != ""


def test_a_policy_set_that_does_not_load_is_refused_and_the_old_one_serves(tmp_path: Path) -> None:
    directory = copy_policies(tmp_path, "p")
    with Engine.from_directory(
        directory, environment="live", store="memory://", secret=SECRET
    ) as engine:
        issued = engine.keys.create(type="read-only", label="r", environment="live")
        request = Request(
            credential=issued.secret, method="GET", path="/v1/events", ip="203.0.113.9"
        )
        before = engine.policy_set().digest
        rules = directory / "rules.yaml"
        rules.write_text(rules.read_text().replace("key.environment", "key.enviroment"))
        with pytest.raises(PolicyError, match=r"unknown attribute 'key\.enviroment'"):
            engine.reload()
        assert engine.policy_set().digest == before
        assert engine.check(request).allowed


def test_a_reload_that_names_another_key_prefix_is_refused_at_its_directory(
    tmp_path: Path,
) -> None:
    directory = copy_policies(tmp_path, "p")
    with Engine.from_directory(
        directory, environment="live", store="memory://", secret=SECRET
    ) as engine:
        issued = engine.keys.create(type="read-only", label="r", environment="live")
        elsewhere = copy_policies(tmp_path, "acme")
        types = elsewhere / "key_types.yaml"
        types.write_text(types.read_text().replace("key_prefix: tdoc", "key_prefix: acme"))
        with pytest.raises(PolicyError) as refused:
            engine.reload(elsewhere)
        assert [str(d) for d in refused.value.diagnostics] == [
            f"{elsewhere}: key_prefix is now 'acme', not 'tdoc': a running engine keeps its "
            "prefix, or its keys would stop working; restart it to change the prefix"
        ]
        assert engine.directory == directory
        request = Request(
            credential=issued.secret, method="GET", path="/v1/events", ip="203.0.113.9"
        )
        assert engine.check(request).allowed


def test_engines_sharing_a_store_and_redis_see_a_revocation_at_once(
    tmp_path: Path, clock: Clock
) -> None:
    url = require_redis()
    options = {
        "environment": "live",
        "store": f"sqlite:///{tmp_path / 'keys.db'}",
        "secret": SECRET,
        "clock": clock,
        "redis": url,
        "redis_channel": f"policyengine-test:{time.time_ns()}",
        "cache_ttl": 3600.0,
        "monitor": "off",
        "handle_signals": False,
    }
    with (
        Engine.from_directory(POLICIES, **options) as admin,
        Engine.from_directory(POLICIES, **options) as server,
    ):
        issued = admin.keys.create(type="read-only", label="shared", environment="live")
        request = Request(
            credential=issued.secret, method="GET", path="/v1/events", ip="203.0.113.9"
        )
        assert server.check(request).allowed
        admin.keys.revoke(issued.key.id)
        deadline = time.monotonic() + 5
        while server.check(request).code is not Code.REVOKED:
            assert time.monotonic() < deadline, "the revocation never reached the other engine"
            time.sleep(0.01)


def test_four_processes_sharing_redis_admit_exactly_the_limit(tmp_path: Path) -> None:
    redis_url = require_redis()
    import redis

    store = f"sqlite:///{tmp_path / 'keys.db'}"
    with Engine.from_directory(
        POLICIES, environment="live", store=store, secret=SECRET, limiter=redis_url
    ) as engine:
        issued = engine.keys.create(
            type="read-only", label="shared", environment="live", rate_limit="50/day"
        )
    client = redis.Redis.from_url(redis_url)
    try:
        context = multiprocessing.get_context("spawn")
        results = context.Queue()
        workers = [
            context.Process(
                target=hammer,
                args=(POLICIES, store, redis_url, SECRET, issued.secret, 40, results),
            )
            for _ in range(4)
        ]
        for worker in workers:
            worker.start()
        codes = [code for _ in workers for code in results.get(timeout=120)]
        for worker in workers:
            worker.join(timeout=60)
        assert len(codes) == 160
        assert codes.count("OK") == 50
        assert codes.count("RATE_LIMITED") == 110
    finally:
        for key in client.scan_iter(f"*{issued.key.id}*"):
            client.delete(key)


def test_a_reload_is_audited_with_who_from_where_and_what_it_replaced(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    first = copy_policies(tmp_path, "first")
    second = copy_policies(tmp_path, "second")
    (second / "rules.yaml").write_text(
        (second / "rules.yaml").read_text().replace("Any key may read", "Every key may read")
    )
    monitor = f"sqlite:///{tmp_path / 'monitor.db'}"
    with Engine.from_directory(
        first, store="memory://", secret=SECRET, monitor=monitor, handle_signals=False
    ) as engine:
        before = engine.prepared.digest
        caplog.set_level("INFO", logger="policyengine")
        engine.reload(second, actor="cli:carol")
        engine.reload()
        engine.flush()
        after = engine.prepared.digest
        entries = [e for e in engine.monitor.audit.export() if e.event == "policy.reloaded"]
    assert after != before
    assert [(e.actor, e.subject, e.details["source"], e.details["previous"]) for e in entries] == [
        ("cli:carol", after, str(second), before),
        ("app", after, str(second), after),
    ]
    assert f"policy set {after[:12]} loaded from {second}" in caplog.messages


def test_the_first_load_is_audited_with_the_directory_it_came_from_if_any() -> None:
    loads = []
    for built in (
        lambda **o: Engine(load_directory(POLICIES), **o),
        lambda **o: Engine.from_directory(POLICIES, **o),
    ):
        with built(
            store="memory://", secret=SECRET, monitor="memory://", handle_signals=False
        ) as engine:
            engine.flush()
            loads += [e for e in engine.monitor.audit.export() if e.event == "policy.loaded"]
    assert [(e.actor, e.details["source"]) for e in loads] == [
        ("app", None),
        ("app", str(POLICIES)),
    ]


def test_an_engine_built_from_a_policy_set_reloads_only_from_a_named_directory() -> None:
    with Engine(load_directory(POLICIES), store="memory://", secret=SECRET) as engine:
        with pytest.raises(InvalidValue) as refused:
            engine.reload()
        assert str(refused.value) == "this engine was not loaded from a directory; name one"
        engine.reload(POLICIES)
        assert engine.directory == POLICIES
