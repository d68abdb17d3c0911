"""``engine.monitor.activity``: one key's decisions by time, code and action, a page at a
time; and the same for requests without a valid key."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from policyengine.decision import Code
from policyengine.engine import Engine
from policyengine.errors import MonitorError
from policyengine.monitor import Monitor
from policyengine.monitor.sql_rows import decisions_statement
from policyengine.monitor.store import DecisionQuery, open_store

from .conftest import EngineFactory
from .support import T0, Clock, get, reader


def every_page(engine: Engine, key_id: str, limit: int, **filters: object) -> list[list[str]]:
    """The request ids of every page; the key's lifecycle events left out (``action``)."""
    filters.setdefault("action", "read")
    pages, cursor = [], None
    while True:
        page = engine.monitor.activity(key_id, cursor=cursor, limit=limit, **filters)  # type: ignore[arg-type]
        pages.append([record.request_id for record in page])
        cursor = page.next_cursor
        if cursor is None:
            return pages


def test_pages_cover_every_record_once_newest_first(
    make_engine: EngineFactory, clock: Clock
) -> None:
    engine = make_engine()
    issued = reader(engine)
    for number in range(7):
        engine.check(get(issued.secret, request_id=f"r{number}"))
        if number % 2:
            clock.advance(seconds=1)  # some records share an instant, some do not
    engine.flush()
    pages = every_page(engine, issued.key.id, 3)
    assert pages == [["r6", "r5", "r4"], ["r3", "r2", "r1"], ["r0"]]


def test_filters_by_time_code_and_action(make_engine: EngineFactory, clock: Clock) -> None:
    engine = make_engine()
    issued = reader(engine)
    engine.check(get(issued.secret, request_id="early"))
    clock.advance(minutes=10)
    engine.check(get(issued.secret, request_id="read"))
    engine.check(get(issued.secret, "/v1/keys", request_id="scope"))
    engine.check(get(issued.secret, ip="198.51.100.1", request_id="ip"))
    engine.flush()
    activity = engine.monitor.activity
    key = issued.key.id
    assert [
        r.request_id for r in activity(key, since=T0 + timedelta(minutes=5), action="read")
    ] == [
        "ip",
        "scope",
        "read",
    ]
    assert [
        r.request_id for r in activity(key, until=T0 + timedelta(minutes=5), action="read")
    ] == ["early"]
    assert [r.request_id for r in activity(key, code="INSUFFICIENT_SCOPE")] == ["scope"]
    assert [r.request_id for r in activity(key, code=[Code.OK, Code.IP_NOT_ALLOWED])] == [
        "ip",
        "read",
        "early",
    ]
    assert [r.request_id for r in activity(key, action="read", code="OK")] == ["read", "early"]
    assert [r.request_id for r in activity(key, action="admin")] == []
    other = reader(engine)
    engine.flush()
    assert [a.event for a in activity(other.key.id)] == ["key.created"]


def test_a_request_is_found_by_its_id_among_its_keys_own_records(
    make_engine: EngineFactory, clock: Clock
) -> None:
    engine = make_engine()
    mine, theirs = reader(engine), reader(engine)
    engine.check(get(mine.secret, request_id="retried"))
    clock.advance(seconds=1)
    engine.check(get(mine.secret, "/v1/keys", request_id="retried"))  # a caller's own id, again
    engine.check(get(mine.secret, request_id="other"))
    engine.check(get(theirs.secret, ip="198.51.100.1", request_id="theirs"))
    engine.check(get(theirs.secret, request_id="retried"))
    engine.flush()
    decisions = engine.monitor.decisions
    assert [r.code for r in decisions(mine.key.id, request_id="retried")] == [
        Code.INSUFFICIENT_SCOPE,
        Code.OK,
    ]
    assert [r.code for r in decisions(theirs.key.id, request_id="retried")] == [Code.OK]
    assert list(decisions(mine.key.id, request_id="theirs")) == []
    assert [r.request_id for r in decisions(theirs.key.id, request_id="theirs")] == ["theirs"]


def test_finding_a_request_by_id_does_not_walk_its_keys_history(tmp_path: Path) -> None:
    """The request id's own index is used, not the key's, which the order by time makes
    look cheap to SQLite's planner; over a key's million records that is 100 ms a lookup."""
    url = f"sqlite:///{tmp_path / 'monitor.db'}"
    open_store(url).close()  # the store and its migrations
    sql, params = decisions_statement(DecisionQuery(limit=1, key_id="key_1", request_id="r1"))
    with closing(sqlite3.connect(tmp_path / "monitor.db")) as connection:
        plan = connection.execute(f"EXPLAIN QUERY PLAN {sql}", params).fetchall()
    assert [step[3] for step in plan if "INDEX" in step[3]] == [
        "SEARCH policyengine_decisions USING INDEX policyengine_decisions_request (request_id=?)"
    ]


def test_filters_of_requests_without_a_key(make_engine: EngineFactory) -> None:
    engine = make_engine()
    issued = reader(engine)
    engine.check(get(issued.secret))
    engine.check(get(None, ip="198.51.100.1", request_id="missing"))
    engine.check(get("tdoc_test_x", ip="198.51.100.2", request_id="malformed"))
    engine.flush()
    keyless = engine.monitor.address_activity
    assert [r.request_id for r in keyless()] == ["malformed", "missing"]
    assert [r.request_id for r in keyless(code="MISSING_CREDENTIAL")] == ["missing"]
    assert [r.request_id for r in keyless("198.51.100.2")] == ["malformed"]
    assert [r.request_id for r in keyless("198.51.100.3")] == []


@settings(max_examples=25, deadline=None)
@given(
    count=st.integers(0, 12), limit=st.integers(1, 5), ticks=st.lists(st.booleans(), min_size=12)
)
def test_paging_never_skips_or_repeats_a_record(count: int, limit: int, ticks: list[bool]) -> None:
    clock = Clock()
    from .support import POLICIES, SECRET

    with Engine.from_directory(
        POLICIES,
        environment="live",
        store="memory://",
        secret=SECRET,
        clock=clock,
        maintenance_interval=None,
        monitor="memory://",
        handle_signals=False,
    ) as engine:
        issued = reader(engine, rate_limit="1000/minute")
        for number in range(count):
            engine.check(get(issued.secret, request_id=f"r{number:02d}"))
            if ticks[number]:
                clock.advance(microseconds=1)
        engine.flush()
        pages = every_page(engine, issued.key.id, limit)
        seen = [rid for page in pages for rid in page]
        assert seen == [f"r{n:02d}" for n in reversed(range(count))]
        assert all(len(page) == limit for page in pages[:-1])


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda m: m.activity("tdoc_live_" + "A" * 36), "not a key id"),
        (lambda m: m.activity("key_" + "A" * 20, limit=0), "limit must be"),
        (lambda m: m.activity("key_" + "A" * 20, limit=1001), "limit must be"),
        (lambda m: m.activity("key_" + "A" * 20, cursor="nonsense!"), "invalid cursor"),
        (lambda m: m.activity("key_" + "A" * 20, code="NOPE"), "unknown decision code"),
        (lambda m: m.activity("key_" + "A" * 20, since=datetime(2026, 1, 1)), "timezone-aware"),
        (
            lambda m: m.activity("key_" + "A" * 20, since=T0, until=T0 - timedelta(1)),
            "since must not be later",
        ),
        (lambda m: m.address_activity("not-an-address"), "IPv4 or IPv6"),
    ],
)
def test_bad_arguments_are_refused_clearly(engine: Engine, call: object, message: str) -> None:
    with pytest.raises(MonitorError, match=message) as caught:
        call(engine.monitor)  # type: ignore[operator]
    assert "tdoc_live_" not in str(caught.value)


def test_a_monitor_that_is_off_records_nothing_and_refuses_queries(
    make_engine: EngineFactory,
) -> None:
    engine = make_engine(monitor="off")
    issued = reader(engine)
    assert engine.check(get(issued.secret)).allowed
    assert not engine.monitor.enabled
    assert engine.flush()
    with pytest.raises(MonitorError, match="monitoring is off"):
        engine.monitor.activity(issued.key.id)


def test_records_older_than_the_retention_period_are_pruned(
    make_engine: EngineFactory, clock: Clock
) -> None:
    engine = make_engine(retention="1h")
    issued = reader(engine)
    engine.check(get(issued.secret, request_id="old"))
    clock.advance(minutes=50)
    engine.check(get(issued.secret, request_id="recent"))
    clock.advance(minutes=20)
    assert engine.monitor.prune() == 1
    kept = engine.monitor.activity(issued.key.id)
    assert [getattr(r, "request_id", r.event) for r in kept] == ["recent", "key.created"]


def test_close_writes_what_is_still_queued(
    make_engine: EngineFactory, monitor_url: str, clock: Clock
) -> None:
    if monitor_url == "memory://":
        pytest.skip("a monitor in memory is gone once closed")
    engine = make_engine()
    issued = reader(engine)
    for number in range(50):
        engine.check(get(issued.secret, request_id=f"r{number}"))
    engine.close()
    assert engine.monitor.stats().written == 50
    again = Monitor.open(monitor_url, clock=clock)
    try:
        assert len(again.activity(issued.key.id, code="OK", limit=100)) == 50
    finally:
        again.close()
