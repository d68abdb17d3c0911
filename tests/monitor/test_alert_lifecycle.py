"""An alert's life: raised once, added to while it lasts, over after a quiet period;
heard by subscribers; kept across restarts and shared by processes."""

from __future__ import annotations

from pathlib import Path

import pytest

from policyengine.engine import Engine
from policyengine.errors import MonitorError
from policyengine.monitor import Notice

from .conftest import EngineFactory
from .support import POLICIES, Clock, get, reader


def policies_with(tmp_path: Path, alerts: str) -> Path:
    target = tmp_path / "policies"
    target.mkdir(exist_ok=True)
    for path in POLICIES.glob("*.yaml"):
        if path.name != "alerts.yaml":
            (target / path.name).write_text(path.read_text())
    (target / "alerts.yaml").write_text("version: 1\nalerts:\n" + alerts)
    return target


def probe(engine: Engine, times: int, ip: str = "192.0.2.66") -> None:
    for _ in range(times):
        engine.check(get(None, ip=ip))


def test_signs_while_an_alert_is_open_add_to_it(make_engine: EngineFactory, clock: Clock) -> None:
    engine = make_engine()
    probe(engine, 20)
    clock.advance(seconds=10)
    probe(engine, 5)
    engine.flush()
    (alert,) = engine.monitor.alerts()
    assert (alert.kind, alert.subject, alert.subject_type, alert.severity) == (
        "denial_burst",
        "192.0.2.66",
        "address",
        "warning",
    )
    assert alert.count == 6
    assert (alert.first_seen, alert.last_seen) == (clock.now.replace(second=0), clock.now)
    assert alert.evidence["codes"] == {"MISSING_CREDENTIAL": 20}
    assert alert.state == "open"
    assert "20 denials" in alert.message


def test_an_alert_is_over_after_its_quiet_period_and_the_next_sign_raises_anew(
    make_engine: EngineFactory, clock: Clock
) -> None:
    engine = make_engine()
    heard: list[Notice] = []
    engine.monitor.subscribe(heard.append, events=["alert.*"])
    probe(engine, 20)
    engine.flush()
    clock.advance(minutes=59)
    engine.monitor.close_quiet_alerts()
    assert [a.state for a in engine.monitor.alerts()] == ["open"]
    clock.advance(minutes=2)
    engine.monitor.close_quiet_alerts()
    (closed,) = engine.monitor.alerts(state="closed")
    assert closed.closed_at == clock.now
    probe(engine, 20)
    engine.flush()
    assert [a.state for a in engine.monitor.alerts()] == ["open", "closed"]
    assert [n.event for n in heard] == ["alert.raised", "alert.resolved", "alert.raised"]
    assert heard[0].data["id"] == closed.id
    assert heard[0].id == f"{closed.id}.raised"
    assert heard[1].at == closed.closed_at


def test_subscribers_hear_only_what_they_asked_for_and_stop_when_cancelled(
    make_engine: EngineFactory,
) -> None:
    engine = make_engine()
    raised: list[Notice] = []
    everything: list[Notice] = []
    engine.monitor.subscribe(raised.append, events=["alert.raised"])
    subscription = engine.monitor.subscribe(everything.append)

    def broken(notice: Notice) -> None:
        raise RuntimeError("a subscriber's own bug")

    engine.monitor.subscribe(broken)
    probe(engine, 20)
    engine.flush()
    subscription.cancel()
    probe(engine, 20, ip="192.0.2.67")
    engine.flush()
    assert [n.data["subject"] for n in raised] == ["192.0.2.66", "192.0.2.67"]
    assert [(n.event, n.data["subject"]) for n in everything] == [
        ("policy.loaded", engine.prepared.digest),
        ("alert.raised", "192.0.2.66"),
    ]
    assert engine.monitor.stats().written == 40


@pytest.mark.parametrize(
    ("events", "message"),
    [("alert.raised", "a list"), (["alerts.*"], "unknown event"), ([], "a list")],
)
def test_a_bad_subscription_is_refused(engine: Engine, events: object, message: str) -> None:
    with pytest.raises(MonitorError, match=message):
        engine.monitor.subscribe(print, events=events)  # type: ignore[arg-type]


def test_a_kind_turned_off_raises_nothing_and_a_reload_applies_new_thresholds(
    make_engine: EngineFactory, tmp_path: Path
) -> None:
    directory = policies_with(tmp_path, "  denial_burst: {enabled: false}\n")
    engine = make_engine(policies_dir=directory)
    probe(engine, 30)
    engine.flush()
    assert len(engine.monitor.alerts()) == 0
    policies_with(tmp_path, "  denial_burst: {denials: 5, within: 1m}\n")
    engine.reload()
    probe(engine, 5)
    engine.flush()
    (alert,) = engine.monitor.alerts()
    assert alert.evidence["denials"] == 5


def test_alerts_are_listed_by_state_kind_severity_and_subject(
    make_engine: EngineFactory,
) -> None:
    engine = make_engine()
    issued = reader(engine)
    probe(engine, 20)
    engine.keys.revoke(issued.key.id)
    engine.check(get(issued.secret))
    engine.flush()
    alerts = engine.monitor.alerts
    assert [a.kind for a in alerts()] == ["revoked_key_used", "denial_burst"]
    assert [a.kind for a in alerts(kind="denial_burst")] == ["denial_burst"]
    assert [a.kind for a in alerts(severity="critical")] == ["revoked_key_used"]
    assert [a.kind for a in alerts(subject=issued.key.id)] == ["revoked_key_used"]
    assert len(alerts(state="closed")) == 0
    first = alerts(limit=1)
    assert [a.kind for a in alerts(cursor=first.next_cursor)] == ["denial_burst"]
    assert alerts()[0].as_dict()["evidence"] == {"client": "203.0.113.9", "path": "/v1/events"}


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"state": "gone"}, "state must be open or closed"),
        ({"kind": "meteor"}, "unknown alert kind"),
        ({"severity": "dire"}, "severity must be one of"),
        ({"limit": 0}, "limit must be"),
    ],
)
def test_bad_alert_queries_are_refused(
    engine: Engine, options: dict[str, object], message: str
) -> None:
    with pytest.raises(MonitorError, match=message):
        engine.monitor.alerts(**options)  # type: ignore[arg-type]


def test_alerts_are_counted_for_prometheus(make_engine: EngineFactory) -> None:
    engine = make_engine()
    probe(engine, 20)
    engine.flush()
    assert b'policyengine_alerts_total{kind="denial_burst",severity="warning"} 1.0' in (
        engine.monitor.metrics()
    )


def test_what_detectors_know_of_a_key_survives_a_restart(
    make_engine: EngineFactory, monitor_url: str, clock: Clock, tmp_path: Path
) -> None:
    if monitor_url == "memory://":
        pytest.skip("a monitor in memory is gone once closed")
    store = f"sqlite:///{tmp_path / 'keys.db'}"
    first = make_engine(store=store)
    issued = reader(first, allowed_ips=[])
    first.check(get(issued.secret, ip="203.0.113.9"))
    first.close()
    clock.advance(days=31)
    again = make_engine(store=store)
    again.check(get(issued.secret, ip="198.51.100.9"))
    again.flush()
    assert sorted(a.kind for a in again.monitor.alerts()) == ["dormant_key", "new_network"]


def test_processes_sharing_a_store_share_one_alert(
    make_engine: EngineFactory, monitor_url: str
) -> None:
    if monitor_url == "memory://":
        pytest.skip("engines share a monitor only through a database")
    first = make_engine()
    second = make_engine(keys=first.keys)
    probe(first, 20)
    first.flush()
    probe(second, 20)
    second.flush()
    (alert,) = first.monitor.alerts()
    assert alert.count == 2
    probe(second, 1)
    second.flush()
    assert first.monitor.alerts()[0].count == 3
