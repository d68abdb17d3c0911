"""Four hours of tDoc's traffic, minute by minute, with or without the anomalies that
each kind of alert is for. The thresholds are the scenario's own ``alerts:`` file, so that
dormancy and expiry fit in four hours."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from policyengine.engine import Engine
from policyengine.keys.format import KeyFormat
from policyengine.keys.pages import IssuedKey
from policyengine.record import Usage
from policyengine.request import Request

from .support import POLICIES, Clock

ALERTS = """\
version: 1
alerts:
  volume_spike: {factor: 5, minimum: 60, baseline: 30m}
  denial_burst: {denials: 10, within: 1m}
  dormant_key: {after: 2h}
  rate_limit_saturated: {for: 3m}
  credits_low: {below: 20%}
  expiring_key_in_use: {within: 1d}
"""
MINUTES = 240


def scenario_policies(tmp_path: Path) -> Path:
    target = tmp_path / "policies"
    target.mkdir()
    for path in POLICIES.glob("*.yaml"):
        if path.name != "alerts.yaml":
            (target / path.name).write_text(path.read_text())
    (target / "alerts.yaml").write_text(ALERTS)
    return target


@dataclass
class Keys:
    steady: IssuedKey
    worker: IssuedKey
    metered: IssuedKey
    sleeper: IssuedKey
    limited: IssuedKey
    leaked: IssuedKey


def keys(engine: Engine) -> Keys:
    create = engine.keys.create
    return Keys(
        steady=create(
            type="read-only", label="steady", environment="live", allowed_ips=["203.0.112.0/23"]
        ),
        worker=create(
            type="write",
            label="worker",
            environment="live",
            allowed_ips=["203.0.113.0/24"],
            expires_in="30d",
        ),
        metered=create(
            type="read-only", label="metered", environment="live", usage=Usage(1000, "monthly")
        ),
        sleeper=create(type="read-only", label="sleeper", environment="live"),
        limited=create(
            type="read-only", label="limited", environment="live", rate_limit="10/minute"
        ),
        leaked=create(type="read-only", label="leaked", environment="live"),
    )


def get(secret: str | None, ip: str, path: str = "/v1/events") -> Request:
    return Request(credential=secret, method="GET", path=path, ip=ip)


def normal_minute(engine: Engine, k: Keys, minute: int, sleeper_every: int) -> None:
    """What one ordinary minute holds, spread over its seconds."""
    check = engine.check
    for _ in range(6):
        check(get(k.steady.secret, "203.0.113.9"))
    for _ in range(3):
        check(get(k.worker.secret, "203.0.113.20", "/v1/tasks"))
    for _ in range(2):
        check(get(k.metered.secret, "198.51.100.30"))
    for _ in range(5):
        check(get(k.limited.secret, "198.51.100.40"))
    if minute < 140:
        check(get(k.leaked.secret, "198.51.100.50"))
    if minute % sleeper_every == 0:
        check(get(k.sleeper.secret, "198.51.100.60"))
    if minute % 10 == 0:
        check(get(None, "198.51.100.1"))


def anomalies(engine: Engine, k: Keys, minute: int, clock: Clock) -> None:
    """The anomalies of one minute of the scenario: each kind of alert has its own."""
    check = engine.check
    if minute == 100:  # volume: 66 requests in a minute against a baseline of 6
        for _ in range(60):
            check(get(k.steady.secret, "203.0.113.9"))
    if minute == 110:  # a network the key never used, inside its allowed range
        check(get(k.steady.secret, "203.0.112.7"))
    if minute == 120:  # probing: unknown keys from one address
        unknown = KeyFormat()
        for _ in range(12):
            check(get(unknown.generate("live"), "192.0.2.66"))
    if minute == 130:  # a test key sent to this live service
        test_key = engine.keys.create(type="read-only", label="ci", environment="test")
        for _ in range(3):
            check(get(test_key.secret, "198.51.100.70"))
    if minute == 140:
        engine.keys.revoke(k.leaked.key.id)
    if minute in (141, 142):  # the revoked key, still tried
        check(get(k.leaked.secret, "198.51.100.50"))
    if 160 <= minute < 166:  # held at its limit of 10 a minute, minute after minute
        for _ in range(15):
            check(get(k.limited.secret, "198.51.100.40"))
    if 170 <= minute < 200:  # spending credits until fewer than 20% are left
        for _ in range(14):
            check(get(k.metered.secret, "198.51.100.30"))
    if minute == 180:  # a key that expires within the day, in use
        short = engine.keys.create(
            type="read-only", label="short", environment="live", expires_in="20h"
        )
        check(get(short.secret, "198.51.100.80"))


def run(engine: Engine, clock: Clock, with_anomalies: bool) -> None:
    k = keys(engine)
    for minute in range(MINUTES):
        # The sleeper is used every half hour, except in the scenario, where it rests for
        # two and a half hours after its first use.
        every = 30 if not with_anomalies else (150 if minute <= 150 else 30)
        normal_minute(engine, k, minute, every)
        if with_anomalies:
            anomalies(engine, k, minute, clock)
        clock.advance(minutes=1)
        if minute % 30 == 0:
            engine.flush()
    engine.flush()
