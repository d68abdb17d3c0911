from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from policyengine.engine import Engine
from policyengine.keys.pages import IssuedKey
from policyengine.limits import Limiter, LimitOutcome, MemoryLimiter
from policyengine.policy.model import RateLimit
from policyengine.record import Usage

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


def tdoc_engine(clock: Clock, **options: Any) -> Engine:
    """An engine over tDoc's policies and a memory store, in the live environment, on
    ``clock``; ``options`` add to or override those."""
    settings: dict[str, Any] = {
        "environment": "live",
        "store": "memory://",
        "secret": SECRET,
        "clock": clock,
        "maintenance_interval": None,
    }
    settings.update(options)
    return Engine.from_directory(POLICIES, **settings)


@pytest.fixture
def engine(clock: Clock) -> Iterator[Engine]:
    with tdoc_engine(clock) as built:
        yield built


def scoped_key(engine: Engine, client: str = "203.0.113.9") -> IssuedKey:
    """A live key that may read events and trigger runs, from ``client`` only."""
    return engine.keys.create(
        type="scoped",
        label="CI",
        environment="live",
        scopes=["events:read", "tasks:trigger"],
        allowed_ips=[client],
    )


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


def behind_proxies(clock: Clock, **options: Any) -> Engine:
    """An engine behind proxies in 10.0.0.0/8 and fd00::/8, in the live environment."""
    return tdoc_engine(clock, trusted_proxies=["10.0.0.0/8", "fd00::/8"], **options)


def call_asgi(
    app: Callable[..., Any],
    method: str,
    path: str,
    secret: str,
    raw: bytes | None = None,
) -> tuple[int, bytes]:
    """An ASGI application called as a server calls it: the decoded path in the scope,
    ``raw`` (default: the path percent-encoded) as the raw path. Its status and body."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": quote(path, safe="/").encode() if raw is None else raw,
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"testserver"), (b"authorization", f"Bearer {secret}".encode())],
        "client": ("203.0.113.9", 50000),
        "server": ("testserver", 80),
    }
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return sent[0]["status"], body


class RemoteLimiter:
    """A limiter as one across the network looks to the engine (no ``in_process``), with
    its state in memory."""

    def __init__(self) -> None:
        self._state = MemoryLimiter()

    def acquire(
        self, key_id: str, limits: Sequence[RateLimit], usage: Usage | None, now: float
    ) -> LimitOutcome:
        return self._state.acquire(key_id, limits, usage, now)

    def peek(
        self, key_id: str, limits: Sequence[RateLimit], usage: Usage | None, now: float
    ) -> LimitOutcome:
        return self._state.peek(key_id, limits, usage, now)

    def reset(self, key_id: str) -> None:
        self._state.reset(key_id)

    def close(self) -> None:
        self._state.close()


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
def limiter(request: pytest.FixtureRequest) -> Iterator[Limiter]:
    """Each limiter backend in turn; Redis's under a prefix of its own, cleaned after."""
    if request.param == "memory":
        yield MemoryLimiter()
        return
    from policyengine.limits.redis import RedisLimiter

    url = require_redis()
    prefix = f"policyengine-test:{uuid.uuid4().hex}:"
    opened = RedisLimiter(url, prefix=prefix)
    try:
        yield opened
    finally:
        import redis

        client = redis.Redis.from_url(url)
        stale = list(client.scan_iter(match=prefix + "*", count=1000))
        if stale:
            client.delete(*stale)
        client.close()
        opened.close()
