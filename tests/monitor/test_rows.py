"""Decision rows: what the writer hands every store is read back from each as the same
record, whichever store keeps it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest

import policyengine.monitor.stream
from policyengine.decision import Code
from policyengine.engine import Engine
from policyengine.monitor import DecisionRecord
from policyengine.monitor.capture import Recorder
from policyengine.monitor.memory import MemoryStore
from policyengine.monitor.rows import DecisionRow
from policyengine.monitor.store import Batch, DecisionQuery, MonitorStore, open_store
from policyengine.record import Usage
from policyengine.request import Request

from .conftest import EngineFactory
from .support import get, reader


@pytest.fixture
def store(monitor_url: str) -> Iterator[MonitorStore]:
    opened = open_store(monitor_url)
    yield opened
    opened.close()


def captured_rows(engine: Engine) -> tuple[list[DecisionRow], tuple[str, str]]:
    """Every kind of decision, captured as a check queues it, made into rows."""
    stream = engine.monitor._stream
    assert stream is not None
    stream.queue.clear()
    credited = reader(engine, usage=Usage(5, "monthly"), expires_in="20h", rate_limit="2/minute")
    plain = reader(engine)
    token = engine.tokens.issue(plain.secret, scopes=["events:read"], ttl="15m")
    stream.queue.clear()  # the keys' lifecycle events
    checks = [
        get(credited.secret, "/v1/events/evt_42?page=2", request_id="req-1"),
        get(credited.secret, "/v1/events/evt_42"),
        get(credited.secret),
        get(credited.secret),  # rate-limited
        get(plain.secret, f"/v1/keys/{plain.secret}"),
        get(plain.secret, ip="198.51.100.1"),  # not an allowed address
        get(token),
        get(None, ip="10.0.0.2", headers={"X-Forwarded-For": "198.51.100.4, 10.0.0.9"}),
        get("tdoc_live_short", ip="2001:db8::1"),
        Request(credential=plain.secret, method="POST", path="/v1/events", ip="203.0.113.9"),
        Request(credential=plain.secret, resource="tasks/t1", action="read", ip="203.0.113.9"),
    ]
    codes = [engine.check(asked).code for asked in checks]
    assert {Code.OK, Code.RATE_LIMITED, Code.MISSING_CREDENTIAL, Code.IP_NOT_ALLOWED} <= set(codes)
    captured = [item for item in stream.queue if type(item) is tuple]
    stream.queue.clear()
    assert len(captured) == len(checks)
    recorder = Recorder("live", engine.proxies, "tdoc")
    return [recorder.row(item) for item in captured], (credited.key.id, plain.key.id)


def every_record(store: MonitorStore, key_ids: set[str | None]) -> list[DecisionRecord]:
    found: list[DecisionRecord] = []
    for key_id in sorted(key_ids, key=str):
        query = DecisionQuery(limit=100, key_id=key_id, keyless=key_id is None)
        found += store.decisions(query)
    return found


def test_a_row_reads_back_from_every_store_as_the_record_the_memory_store_keeps(
    make_engine: EngineFactory, store: MonitorStore
) -> None:
    policyengine.monitor.stream.DEFAULT_INTERVAL = 3600.0  # the writer leaves the queue be
    try:
        engine = make_engine(monitor="memory://", trusted_proxies=["10.0.0.0/8"])
    finally:
        policyengine.monitor.stream.DEFAULT_INTERVAL = 0.2
    rows, (credited_id, plain_id) = captured_rows(engine)
    memory = MemoryStore()
    memory.write(Batch(decisions=list(rows)))
    store.write(Batch(decisions=list(rows)))

    key_ids: set[str | None] = {None, credited_id, plain_id}
    kept = every_record(memory, key_ids)
    read = every_record(store, key_ids)
    assert len(kept) == len(rows)
    # Databases keep whole microseconds of latency; everything else is the same.
    if not isinstance(store, MemoryStore):
        kept = [replace(r, latency=round(r.latency * 1e6) / 1e6) for r in kept]
    assert read == kept
    assert [r.as_dict() for r in read] == [r.as_dict() for r in kept]
