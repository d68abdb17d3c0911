"""Anomaly detection: every kind of alert, raised once while it lasts, and never by
ordinary traffic."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from policyengine.monitor import Alert
from policyengine.policy.alerts import ALERT_KINDS

from .conftest import EngineFactory
from .scenario import run, scenario_policies
from .support import Clock


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
