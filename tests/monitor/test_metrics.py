"""The Prometheus exposition: decisions by code, key type and environment, check latency,
the stream's queue, drops and writes, and never a key id."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

import policyengine.monitor.stream
from policyengine.engine import Engine

from .conftest import EngineFactory
from .support import get, reader


def samples(exposition: bytes) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(exposition.decode()):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def test_decisions_are_counted_by_code_key_type_and_environment(engine: Engine) -> None:
    issued = reader(engine)
    writer = engine.keys.create(type="write", label="w", environment="test")
    engine.check(get(issued.secret))
    engine.check(get(issued.secret))
    engine.check(get(issued.secret, "/v1/keys"))
    engine.check(get(writer.secret))
    engine.check(get(None))
    engine.flush()
    found = samples(engine.monitor.metrics())
    decisions = {
        labels: value
        for (name, labels), value in found.items()
        if name == "policyengine_decisions_total"
    }
    assert decisions == {
        (("code", "OK"), ("environment", "live"), ("key_type", "read-only")): 2,
        (("code", "INSUFFICIENT_SCOPE"), ("environment", "live"), ("key_type", "read-only")): 1,
        (("code", "WRONG_ENVIRONMENT"), ("environment", "test"), ("key_type", "write")): 1,
        (("code", "MISSING_CREDENTIAL"), ("environment", "none"), ("key_type", "none")): 1,
    }
    assert found[("policyengine_check_duration_seconds_count", ())] == 5
    assert found[("policyengine_check_duration_seconds_bucket", (("le", "+Inf"),))] == 5
    assert found[("policyengine_check_duration_seconds_sum", ())] > 0
    assert found[("policyengine_monitor_written_total", ())] == 5
    assert found[("policyengine_monitor_dropped_total", ())] == 0
    assert found[("policyengine_monitor_queue_depth", ())] == 0
    text = engine.monitor.metrics().decode()
    assert issued.key.id not in text
    assert writer.key.id not in text


def test_the_collector_registers_with_an_applications_own_registry(engine: Engine) -> None:
    engine.check(get(None))
    engine.flush()
    registry = CollectorRegistry()
    registry.register(engine.monitor.collector)
    assert b'policyengine_decisions_total{code="MISSING_CREDENTIAL"' in generate_latest(registry)


def test_a_full_queue_shows_its_drops(
    make_engine: EngineFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(policyengine.monitor.stream, "DEFAULT_INTERVAL", 3600.0)
    engine = make_engine(monitor_queue=1)
    engine.flush()  # the policy load, which takes a place in the queue too
    for _ in range(3):
        engine.check(get(None))
    found = samples(engine.monitor.metrics())
    assert found[("policyengine_monitor_queue_depth", ())] == 1
    assert found[("policyengine_monitor_dropped_total", ())] == 2
    engine.flush()
    assert samples(engine.monitor.metrics())[("policyengine_monitor_written_total", ())] == 1
