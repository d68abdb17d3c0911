"""Anomaly detection: every kind of alert, raised once while it lasts, and never by
ordinary traffic."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from policyengine.monitor import Alert
from policyengine.policy.alerts import ALERT_KINDS

from .conftest import EngineFactory
from .scenario import run, scenario_policies
from .support import Clock, get, reader


def every_alert(engine: object) -> list[Alert]:
    found, cursor = [], None
    while True:
        page = engine.monitor.alerts(cursor=cursor, limit=100)  # type: ignore[attr-defined]
        found += list(page)
        cursor = page.next_cursor
        if cursor is None:
            return found


def test_the_scenario_raises_every_kind_of_alert_exactly_once(
    make_engine: EngineFactory, clock: Clock, tmp_path: Path
) -> None:
    engine = make_engine(policies_dir=scenario_policies(tmp_path))
    run(engine, clock, with_anomalies=True)
    alerts = every_alert(engine)
    assert Counter(a.kind for a in alerts) == Counter(list(ALERT_KINDS))


def test_ordinary_traffic_of_the_same_length_raises_none(
    make_engine: EngineFactory, clock: Clock, tmp_path: Path
) -> None:
    engine = make_engine(policies_dir=scenario_policies(tmp_path))
    run(engine, clock, with_anomalies=False)
    assert every_alert(engine) == []


def test_a_new_network_is_judged_by_the_prefixes_the_policies_give(
    make_engine: EngineFactory, clock: Clock, tmp_path: Path
) -> None:
    policies = scenario_policies(tmp_path)
    (policies / "alerts.yaml").write_text(
        "version: 1\nalerts:\n  new_network: {ipv4_prefix: 16, ipv6_prefix: 32}\n"
    )
    engine = make_engine(policies_dir=policies)
    issued = reader(engine, allowed_ips=[])
    for ip in ("203.0.113.9", "203.0.7.1", "2001:db8:1::1", "2001:db8:2::1", "198.51.100.1"):
        engine.check(get(issued.secret, ip=ip))
        engine.flush()
        clock.advance(minutes=1)
    (alert,) = [a for a in every_alert(engine) if a.kind == "new_network"]
    # Another /24 of the same /16 is no new network, nor another /48 of the same /32: two
    # signs, the IPv6 network and the last.
    assert alert.count == 2
    assert alert.evidence["network"] == "198.51.0.0/16"
    assert alert.evidence["known_networks"] == ["2001:db8::/32", "203.0.0.0/16"]
