"""The audit log: what it holds, who did it, and a chain that catches every change made
without the secret."""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import timedelta

import pytest

from policyengine.engine import Engine
from policyengine.errors import ConfigError, MonitorError
from policyengine.monitor import AuditHead, Notice

from .conftest import EngineFactory
from .support import POLICIES, T0, Clock, get, reader
from .tamper import Tamper


def logged(engine: Engine) -> Engine:
    """tDoc's policies loaded, a key created, used, rotated, disabled, enabled, revoked."""
    issued = reader(engine, actor="cli:alice")
    engine.check(get(issued.secret))
    rotated = engine.keys.rotate(issued.key.id, grace="0s", actor="key:key_admin")
    engine.keys.disable(rotated.key.id)
    engine.keys.enable(rotated.key.id, actor="cli:bob")
    engine.keys.revoke(rotated.key.id, reason="leaked", actor="cli:bob")
    engine.flush()
    return engine


def test_it_holds_policy_loads_key_lifecycle_and_who_did_each(make_engine: EngineFactory) -> None:
    engine = logged(make_engine(actor="billing"))
    entries = list(engine.monitor.audit.export())
    assert [(e.seq, e.event, e.actor) for e in entries] == [
        (1, "policy.loaded", "billing"),
        (2, "key.created", "cli:alice"),
        (3, "key.rotated", "key:key_admin"),
        (4, "key.created", "key:key_admin"),
        (5, "key.disabled", "billing"),
        (6, "key.enabled", "cli:bob"),
        (7, "key.revoked", "cli:bob"),
    ]
    assert entries[0].subject == engine.prepared.digest
    assert entries[0].details["source"] == str(POLICIES)
    assert entries[6].details == {"reason": "leaked"}
    assert entries[0].prev == "0" * 64
    assert all(b.prev == a.mac for a, b in itertools.pairwise(entries))
    assert engine.monitor.audit.verify().ok


def test_reloads_alerts_and_administrative_actions_are_logged_too(
    make_engine: EngineFactory,
) -> None:
    engine = make_engine()
    for _ in range(20):
        engine.check(get(None, ip="192.0.2.66"))
    engine.reload(actor="cli:carol")
    engine.monitor.audit.record(
        "hook.created", actor="key:key_x", subject="hook_1", details={"n": 1}
    )
    engine.flush()
    events = {e.event: e for e in engine.monitor.audit.export()}
    assert set(events) == {"policy.loaded", "alert.raised", "policy.reloaded", "admin.hook.created"}
    reloaded = events["policy.reloaded"]
    assert (reloaded.actor, reloaded.details["previous"]) == ("cli:carol", engine.prepared.digest)
    raised = events["alert.raised"]
    (alert,) = engine.monitor.alerts()
    assert (raised.subject, raised.details["alert_id"], raised.details["kind"]) == (
        "192.0.2.66",
        alert.id,
        "denial_burst",
    )
    assert events["admin.hook.created"].details == {"n": 1}


@pytest.mark.parametrize(
    ("event", "options", "message"),
    [
        ("key.revoked", {"actor": "x"}, "the engine writes itself"),
        ("admin.thing", {"actor": "x"}, "the engine writes itself"),
        ("Hook Created", {"actor": "x"}, "lower-case words"),
        ("hook.created", {"actor": " "}, "actor must name"),
    ],
)
def test_an_administrative_action_needs_a_name_of_its_own_and_an_actor(
    engine: Engine, event: str, options: dict[str, str], message: str
) -> None:
    with pytest.raises(MonitorError, match=message):
        engine.monitor.audit.record(event, **options)


def test_export_filters_by_event_actor_subject_and_time(
    make_engine: EngineFactory, clock: Clock
) -> None:
    engine = make_engine()
    issued = reader(engine, actor="cli:alice")
    clock.advance(hours=1)
    engine.keys.revoke(issued.key.id, actor="cli:bob")
    engine.flush()
    export = engine.monitor.audit.export
    assert [e.event for e in export(event="key.*")] == ["key.created", "key.revoked"]
    assert [e.event for e in export(event=["policy.loaded", "key.revoked"])] == [
        "policy.loaded",
        "key.revoked",
    ]
    assert [e.event for e in export(actor="cli:bob")] == ["key.revoked"]
    assert [e.event for e in export(subject=issued.key.id, since=T0 + timedelta(minutes=30))] == [
        "key.revoked"
    ]
    assert [e.event for e in export(until=T0 + timedelta(minutes=30))] == [
        "policy.loaded",
        "key.created",
    ]
    assert next(export(event="key.revoked")).as_dict()["actor"] == "cli:bob"
    with pytest.raises(MonitorError, match="not an event name"):
        list(export(event="key.%"))


def test_a_keys_activity_holds_its_lifecycle_beside_its_decisions(
    make_engine: EngineFactory, clock: Clock
) -> None:
    engine = make_engine()
    issued = reader(engine)
    clock.advance(seconds=1)
    engine.check(get(issued.secret))
    clock.advance(seconds=1)
    engine.keys.revoke(issued.key.id)
    engine.check(get(issued.secret))
    engine.flush()
    activity = engine.monitor.activity
    assert [a.event for a in activity(issued.key.id)] == [
        "decision",
        "key.revoked",
        "decision",
        "key.created",
    ]
    first = activity(issued.key.id, limit=3)
    assert [a.event for a in activity(issued.key.id, cursor=first.next_cursor)] == ["key.created"]
    assert [a.event for a in activity(issued.key.id, code="OK")] == ["decision"]


def test_subscribers_hear_of_key_events_once_they_are_written(make_engine: EngineFactory) -> None:
    engine = make_engine()
    heard: list[Notice] = []
    engine.monitor.subscribe(heard.append, events=["key.revoked"])
    issued = reader(engine)
    engine.keys.revoke(issued.key.id, actor="cli:bob")
    engine.flush()
    (notice,) = heard
    assert (notice.event, notice.data["subject"], notice.data["actor"]) == (
        "key.revoked",
        issued.key.id,
        "cli:bob",
    )
    assert notice.id.startswith("aud_")


def test_a_lasting_audit_log_needs_a_lasting_secret(tmp_path: object) -> None:
    with pytest.raises(ConfigError, match="pass secret= or set POLICYENGINE_SECRET") as refused:
        Engine.from_directory(
            POLICIES,
            environment="live",
            store="memory://",
            monitor=f"sqlite:///{tmp_path}/monitor.db",
            handle_signals=False,
        )
    assert str(refused.value) == (
        "the monitor's audit log outlives this process but the secret that seals it would "
        "not: pass secret= or set POLICYENGINE_SECRET, or use monitor='memory://'"
    )


# Tampering, each kind caught at the first entry it touches.


@pytest.fixture
def tampered(make_engine: EngineFactory, monitor_url: str) -> tuple[Engine, Tamper]:
    engine = logged(make_engine())
    assert engine.monitor.audit.verify().checked == 7
    return engine, Tamper(engine, monitor_url)


def problem(engine: Engine, head: AuditHead | str | None = None) -> tuple[str, int, str]:
    verification = engine.monitor.audit.verify(head)
    assert verification.problem is not None
    return verification.problem.kind, verification.problem.seq, verification.problem.message


def test_a_changed_entry_is_named(tampered: tuple[Engine, Tamper]) -> None:
    engine, tamper = tampered
    tamper.change(4, actor="cli:mallory")
    kind, seq, message = problem(engine)
    assert (kind, seq) == ("changed", 4)
    assert message.startswith("entry 4 was changed")
    assert engine.monitor.audit.verify().checked == 3


def test_a_deleted_entry_is_named(tampered: tuple[Engine, Tamper]) -> None:
    engine, tamper = tampered
    tamper.delete(3)
    assert problem(engine)[:2] == ("deleted", 4)


def test_an_inserted_entry_is_named(tampered: tuple[Engine, Tamper]) -> None:
    engine, tamper = tampered
    forged = replace(tamper.entries()[2], actor="cli:mallory", mac="f" * 64)
    tamper.insert(3, replace(forged, prev=tamper.entries()[1].mac))
    kind, seq, message = problem(engine)
    assert (kind, seq) == ("inserted", 3)
    assert "links past it" in message


def test_a_copied_entry_is_named(tampered: tuple[Engine, Tamper]) -> None:
    engine, tamper = tampered
    tamper.insert(4, tamper.entries()[1])
    kind, seq, message = problem(engine)
    assert (kind, seq) == ("inserted", 4)
    assert message == "entry 4 was inserted: it is a copy of entry 2"


def test_reordered_entries_are_named(tampered: tuple[Engine, Tamper]) -> None:
    engine, tamper = tampered
    tamper.swap(3, 5)
    kind, seq, message = problem(engine)
    assert (kind, seq) == ("reordered", 3)
    assert message == "entry 3 is out of order: it belongs after entry 4"


def test_a_chain_rewritten_without_the_secret_is_caught_at_its_first_entry(
    tampered: tuple[Engine, Tamper],
) -> None:
    engine, tamper = tampered
    tamper.rewrite(b"the tamperer's own key, not ours")
    assert problem(engine)[:2] == ("changed", 1)


def test_a_cut_tail_is_caught_by_the_head_noted_earlier(tampered: tuple[Engine, Tamper]) -> None:
    engine, tamper = tampered
    head = engine.monitor.audit.head()
    assert head is not None
    assert engine.monitor.audit.verify(str(head)).ok
    tamper.cut(5)
    assert engine.monitor.audit.verify().ok  # what is left is sound
    kind, seq, message = problem(engine, head)
    assert (kind, seq) == ("truncated", 5)
    assert message.startswith("the log ends at entry 5, before the head 7 given")
    reader(engine)  # the engine writes on: entries 6 and 7 again, but not the ones noted
    reader(engine)
    engine.flush()
    assert problem(engine, str(head))[:2] == ("truncated", 7)


@pytest.mark.parametrize("text", ["", "7", "x:" + "a" * 64, "7:" + "g" * 64, "7:abc"])
def test_a_malformed_head_is_refused(engine: Engine, text: str) -> None:
    with pytest.raises(MonitorError, match="a head is the seq and HMAC"):
        engine.monitor.audit.verify(text)


def test_a_monitor_opened_without_the_secret_has_no_audit_log(
    make_engine: EngineFactory, monitor_url: str, clock: Clock
) -> None:
    if monitor_url == "memory://":
        pytest.skip("a monitor in memory is gone once closed")
    make_engine().close()
    from policyengine.monitor import Monitor

    viewer = Monitor.open(monitor_url, clock=clock)
    try:
        with pytest.raises(MonitorError, match="no audit log"):
            viewer.audit.head()
    finally:
        viewer.close()
