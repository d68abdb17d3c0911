"""The ``alerts:`` section of policy files: thresholds for every kind of anomaly, their
defaults, and every mistake reported at its place."""

from __future__ import annotations

from pathlib import Path

import pytest

from policyengine.errors import PolicyError
from policyengine.policy.alerts import ALERT_KINDS, default_alerts
from policyengine.policy.loader import load_directory, load_texts

ROOT = Path(__file__).resolve().parents[2]
KEY_TYPES = """\
version: 1
resources:
  events: [read]
key_types:
  reader: {description: Reads events, scopes: ["events:read"]}
"""


def errors(alerts: str, more: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(PolicyError) as caught:
        load_texts({"k.yaml": KEY_TYPES, "a.yaml": alerts, **(more or {})})
    return [str(d) for d in caught.value.diagnostics]


def test_without_an_alerts_section_every_kind_watches_with_its_defaults() -> None:
    policy = load_texts({"k.yaml": KEY_TYPES})
    assert set(policy.alerts) == set(ALERT_KINDS)
    assert policy.alerts == default_alerts()
    assert all(s.enabled for s in policy.alerts.values())
    assert policy.alerts["volume_spike"]["factor"] == 10


def test_a_section_changes_thresholds_severity_quiet_period_and_switches() -> None:
    policy = load_texts(
        {
            "k.yaml": KEY_TYPES,
            "a.yaml": """\
version: 1
alerts:
  volume_spike: {factor: 2.5, minimum: 30, baseline: 2h}
  credits_low: {below: 25%}
  denial_burst: {denials: 5, within: 30s, severity: critical, quiet: 10m}
  new_network: {enabled: false}
  expiring_key_in_use: {within: 3d}
""",
        }
    )
    alerts = policy.alerts
    assert dict(alerts["volume_spike"].params) == {"factor": 2.5, "minimum": 30, "baseline": 7200}
    assert alerts["credits_low"]["below"] == 0.25
    burst = alerts["denial_burst"]
    assert (burst.severity, burst.quiet, burst["denials"], burst["within"]) == (
        "critical",
        600,
        5,
        30,
    )
    assert alerts["new_network"].enabled is False
    assert alerts["expiring_key_in_use"]["within"] == 3 * 86400
    assert str(alerts["credits_low"].location) == "a.yaml:4:3"
    assert alerts["dormant_key"] == default_alerts()["dormant_key"]


def test_tdocs_policies_watch_for_every_kind() -> None:
    policy = load_directory(ROOT / "policies")
    assert all(policy.alerts[kind].location is not None for kind in ALERT_KINDS)
    assert policy.alerts["revoked_key_used"].severity == "critical"


def test_every_mistake_is_reported_where_it_was_made() -> None:
    assert errors(
        """\
version: 1
alerts:
  volume_spikes: {}
  credits_low: {below: 200%, above: 1}
  denial_burst: {denials: 1, within: soon}
  rate_limit_saturated: {for: 10s, severity: loud}
  dormant_key: {enabled: maybe, quiet: 1s}
  volume_spike: {factor: high, minimum: 1.5}
  new_network: []
  expiring_key_in_use: {within: 7}
"""
    ) == [
        "a.yaml:3:3: unknown alert 'volume_spikes' (did you mean 'volume_spike'?)",
        "a.yaml:4:24: below must be more than 0% and less than 100%, not 200%",
        "a.yaml:4:30: unknown key 'above' in alert 'credits_low'; expected one of: enabled, "
        "severity, quiet, below",
        "a.yaml:5:27: denials must be at least 2, not 1",
        "a.yaml:5:38: invalid duration 'soon': write a number and a unit, such as 30d, 15m or "
        "1h30m (units: ms, s, m, h, d, w)",
        "a.yaml:6:31: for must be at least 1m long",
        "a.yaml:6:46: severity must be one of info, warning, critical, not 'loud'",
        "a.yaml:7:26: enabled must be true or false",
        "a.yaml:7:40: quiet must be at least 1m long",
        "a.yaml:8:26: factor must be a number, not a string",
        "a.yaml:8:41: minimum must be a whole number, not a number",
        "a.yaml:9:16: alert 'new_network' must be a mapping, not a list",
        "a.yaml:10:33: within must be a string, not an integer",
    ]


def test_a_kind_set_in_two_files_is_an_error() -> None:
    assert errors(
        "version: 1\nalerts:\n  dormant_key: {after: 7d}\n",
        {"b.yaml": "version: 1\nalerts:\n  dormant_key: {after: 9d}\n"},
    ) == ["b.yaml:3:3: duplicate alert 'dormant_key' (first at a.yaml:3:3)"]
