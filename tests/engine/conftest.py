from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from policyengine.engine import Engine

ROOT = Path(__file__).resolve().parents[2]
POLICIES = ROOT / "policies"
SECRET = "engine-tests-hashing-secret-0123456789abcdef"


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def engine(clock: Clock) -> Iterator[Engine]:
    with Engine.from_directory(
        POLICIES, store="memory://", secret=SECRET, clock=clock, maintenance_interval=None
    ) as built:
        yield built


def edited_policies(tmp_path: Path, file: str, old: str, new: str) -> Path:
    """tDoc's policy files with one change to ``file``, in a directory of their own."""
    target = tmp_path / "policies"
    target.mkdir()
    for path in POLICIES.glob("*.yaml"):
        text = path.read_text()
        if path.name == file:
            assert old in text
            text = text.replace(old, new, 1)
        (target / path.name).write_text(text)
    return target


def redis_url() -> str:
    return os.environ.get("POLICYENGINE_TEST_REDIS", "redis://127.0.0.1:6379/0")


def require_redis() -> str:
    import redis

    url = redis_url()
    try:
        redis.Redis.from_url(url, socket_timeout=1).ping()
    except redis.RedisError:
        if os.environ.get("CI") == "true":
            pytest.fail(f"Redis is required under CI=true and is not answering at {url}")
        pytest.skip(f"no Redis at {url}")
    return url
