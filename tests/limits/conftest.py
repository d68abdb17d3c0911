"""Fixtures: limiters of both kinds, each with its own key space, cleaned up afterwards.

The Redis tests use the server at ``POLICYENGINE_TEST_REDIS`` (default
``redis://127.0.0.1:6379/0``). Without one they skip, except under ``CI=true``, where a
missing server is a failure: CI must not pass by skipping what it exists to check.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import redis
from hypothesis import settings

from policyengine.limits import Limiter, MemoryLimiter
from policyengine.limits.redis import RedisLimiter

REDIS_URL = os.environ.get("POLICYENGINE_TEST_REDIS", "redis://127.0.0.1:6379/0")

#: A Thursday, 2026-11-26 00:00:00 UTC: whole days and months are easy to reason about.
MIDNIGHT = 1_795_651_200.0


class Backend:
    """Opens fresh limiters of one kind; a Redis one gets a prefix of its own."""

    def __init__(self, redis_url: str | None) -> None:
        self.redis_url = redis_url
        self.name = "memory" if redis_url is None else "redis"

    @property
    def examples(self) -> int:
        """Hypothesis examples per property: the profile's, but fewer for Redis round trips."""
        profile = settings().max_examples
        return profile if self.redis_url is None else min(profile, 25)

    @contextmanager
    def open(self) -> Iterator[Limiter]:
        if self.redis_url is None:
            yield MemoryLimiter()
            return
        prefix = f"policyengine-test:{uuid.uuid4().hex}:"
        limiter = RedisLimiter(self.redis_url, prefix=prefix)
        try:
            yield limiter
        finally:
            limiter.close()
            delete_prefix(self.redis_url, prefix)


def delete_prefix(url: str, prefix: str) -> None:
    client = redis.Redis.from_url(url)
    try:
        stale = list(client.scan_iter(match=prefix + "*", count=1000))
        if stale:
            client.delete(*stale)
    finally:
        client.close()


@pytest.fixture(scope="session")
def redis_url() -> str:
    client = redis.Redis.from_url(REDIS_URL, socket_timeout=1, socket_connect_timeout=1)
    try:
        client.ping()
    except redis.RedisError as error:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI needs Redis at {REDIS_URL}, which does not answer: {error}")
        pytest.skip(f"no Redis at {REDIS_URL}: {error}")
    finally:
        client.close()
    return REDIS_URL


@pytest.fixture(scope="session", params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
def backend(request: pytest.FixtureRequest) -> Backend:
    if request.param == "memory":
        return Backend(None)
    return Backend(request.getfixturevalue("redis_url"))


@pytest.fixture
def limiter(backend: Backend) -> Iterator[Limiter]:
    with backend.open() as opened:
        yield opened


@pytest.fixture
def redis_limiter(redis_url: str) -> Iterator[Limiter]:
    with Backend(redis_url).open() as opened:
        yield opened
