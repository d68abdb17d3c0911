"""What the monitor tests share besides fixtures."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from policyengine.engine import Engine
from policyengine.keys.pages import IssuedKey
from policyengine.request import Request

ROOT = Path(__file__).resolve().parents[2]
POLICIES = ROOT / "policies"
SECRET = "monitor-tests-hashing-secret-0123456789abcdef"
T0 = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, start: datetime = T0) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def reader(engine: Engine, **options: object) -> IssuedKey:
    settings: dict[str, object] = {
        "type": "read-only",
        "label": "reader",
        "environment": "live",
        "allowed_ips": ["203.0.113.0/24"],
    }
    settings.update(options)
    return engine.keys.create(**settings)  # type: ignore[arg-type]


def get(
    secret: str | None, path: str = "/v1/events", ip: str = "203.0.113.9", **more: object
) -> Request:
    return Request(credential=secret, method="GET", path=path, ip=ip, **more)  # type: ignore[arg-type]
