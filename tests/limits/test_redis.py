"""What only the Redis backend must show: one atomic step across processes, fast failure,
script reloading, expiring keys, and the same answers as the memory backend."""

from __future__ import annotations

import multiprocessing
import socket
import threading
import time
import uuid
from collections.abc import Iterator

import pytest
import redis
from hypothesis import given, settings
from hypothesis import strategies as st

from policyengine.errors import ConfigError, StorageError
from policyengine.limits import Limiter, MemoryLimiter, open_limiter
from policyengine.limits.redis import ACQUIRE, ACQUIRE_SHA, RedisLimiter
from policyengine.policy.model import RateLimit
from policyengine.record import Usage
from policyengine.units import make_rate, parse_rate

from .conftest import MIDNIGHT, Backend, delete_prefix
from .hammer import hammer
from .strategies import limit_sets, request_times

pytestmark = pytest.mark.redis

DAILY = (RateLimit("daily", parse_rate("300/day")),)


@pytest.fixture
def raw(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    yield client
    client.close()


@pytest.fixture
def prefix(redis_url: str) -> Iterator[str]:
    value = f"policyengine-test:{uuid.uuid4().hex}:"
    yield value
    delete_prefix(redis_url, value)


@pytest.mark.parametrize(
    ("limits", "usage", "admitted"),
    [
        pytest.param(DAILY, None, 300, id="a-rate-limit"),
        pytest.param(DAILY, Usage(120, "monthly"), 120, id="usage-credits"),
    ],
)
def test_four_processes_on_one_key_admit_exactly_the_limit(
    redis_url: str,
    prefix: str,
    raw: redis.Redis,
    limits: tuple[RateLimit, ...],
    usage: Usage | None,
    admitted: int,
) -> None:
    context = multiprocessing.get_context("spawn")
    start, results = context.Barrier(4), context.Queue()
    workers = [
        context.Process(target=hammer, args=(redis_url, prefix, limits, usage, 150, start, results))
        for _ in range(4)
    ]
    for worker in workers:
        worker.start()
    passed = [results.get(timeout=60) for _ in workers]
    for worker in workers:
        worker.join(timeout=10)
    assert [worker.exitcode for worker in workers] == [0, 0, 0, 0]
    assert sum(passed) == admitted
    assert sum(1 for count in passed if count) >= 2  # they really raced
    if usage is not None:
        counters = raw.keys(f"{prefix}*usage*")
        assert [raw.get(key) for key in counters] == [str(admitted)]


def test_an_unreachable_redis_is_a_storage_error_at_once() -> None:
    limiter = RedisLimiter("redis://127.0.0.1:1/0")
    started = time.monotonic()
    with pytest.raises(StorageError):
        limiter.acquire("k", DAILY, None, MIDNIGHT)
    assert time.monotonic() - started < 1.0


def test_a_redis_that_never_answers_is_a_storage_error_after_one_short_timeout() -> None:
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)  # accepts connections, then says nothing
        host, port = silent.getsockname()
        limiter = RedisLimiter(f"redis://{host}:{port}/0", timeout=0.2)
        started = time.monotonic()
        with pytest.raises(StorageError):
            limiter.acquire("k", DAILY, Usage(5, "daily"), MIDNIGHT)
        elapsed = time.monotonic() - started
        limiter.close()
    assert 0.15 < elapsed < 0.6


def test_the_script_is_loaded_again_after_redis_forgets_it(
    redis_limiter: Limiter, raw: redis.Redis
) -> None:
    limits = (RateLimit("default", make_rate(10, 1.0, 2)),)
    # The script is called by the name Redis files it under.
    assert raw.script_load(ACQUIRE) == ACQUIRE_SHA.decode()
    assert redis_limiter.acquire("k", limits, None, MIDNIGHT).allowed
    raw.script_flush()
    assert redis_limiter.acquire("k", limits, None, MIDNIGHT).allowed
    assert not redis_limiter.acquire("k", limits, None, MIDNIGHT).allowed


def test_keys_expire_once_they_no_longer_matter(
    redis_url: str, prefix: str, raw: redis.Redis
) -> None:
    limiter = RedisLimiter(redis_url, prefix=prefix)
    now = time.time()
    limits = (RateLimit("minute", parse_rate("60/minute")),)
    limiter.acquire("k", limits, Usage(10, "daily"), now)
    limiter.acquire("life", (), Usage(10, "never"), now)
    limiter.close()
    rate_ttl = raw.pttl(f"{prefix}{{k}}:rate:minute")
    assert 1_000 < rate_ttl <= 2_000  # one interval (1 s) plus a second's slack
    usage_ttl = raw.pttl(next(iter(raw.keys(f"{prefix}{{k}}:usage:*"))))
    assert 1_000 < usage_ttl <= 86_401_000
    assert raw.pttl(f"{prefix}{{life}}:usage:lifetime") == -1  # lifetime credits stay


def test_a_foreign_value_under_a_limit_key_is_a_storage_error(
    redis_url: str, prefix: str, raw: redis.Redis
) -> None:
    raw.set(f"{prefix}{{k}}:rate:default", "not a number")
    limiter = RedisLimiter(redis_url, prefix=prefix)
    with pytest.raises(StorageError):
        limiter.acquire("k", (RateLimit("default", parse_rate("1/second")),), None, MIDNIGHT)
    limiter.close()


def test_reset_deletes_every_key_of_one_key_id(
    redis_url: str, prefix: str, raw: redis.Redis
) -> None:
    limiter = RedisLimiter(redis_url, prefix=prefix)
    limits = (RateLimit("minute", parse_rate("1/minute")),)
    for key_id in ("gone*", "gone*x"):  # a glob character must not widen the reset
        limiter.acquire(key_id, limits, Usage(1, "never"), MIDNIGHT)
    limiter.reset("gone*")
    assert sorted(raw.keys(f"{prefix}*")) == [
        f"{prefix}{{gone*x}}:rate:minute",
        f"{prefix}{{gone*x}}:usage:lifetime",
    ]
    limiter.close()


def test_redis_and_memory_answer_alike(redis_url: str) -> None:
    backend = Backend(redis_url)

    @settings(max_examples=backend.examples, deadline=None)
    @given(st.data(), limit_sets())
    def check(data: st.DataObject, config: tuple) -> None:  # type: ignore[type-arg]
        limits, usage = config
        times = data.draw(request_times(max(limit.rate.period for limit in limits), 30))
        memory = MemoryLimiter()
        with backend.open() as shared:
            for t in times:
                here = memory.acquire("k", limits, usage, MIDNIGHT + t)
                there = shared.acquire("k", limits, usage, MIDNIGHT + t)
                assert (there.allowed, there.code, there.retry_after, there.denied_by) == (
                    here.allowed,
                    here.code,
                    here.retry_after,
                    here.denied_by,
                )
                assert (there.states, there.usage) == (here.states, here.usage)

    check()


def test_threads_sharing_one_limiter_admit_exactly_the_limit(redis_url: str, prefix: str) -> None:
    limiter = RedisLimiter(redis_url, prefix=prefix)
    start = threading.Barrier(6)
    admitted: list[int] = []

    def hammer() -> None:
        start.wait()
        passed = sum(limiter.acquire("k", DAILY, None, MIDNIGHT).allowed for _ in range(80))
        admitted.append(passed)

    threads = [threading.Thread(target=hammer) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    limiter.close()
    assert sum(admitted) == 300
    assert len(admitted) == 6


def test_a_connection_redis_closed_is_replaced_without_a_failure(
    redis_url: str, prefix: str, raw: redis.Redis
) -> None:
    limiter = RedisLimiter(redis_url, prefix=prefix)
    limits = (RateLimit("default", make_rate(10, 1.0, 2)),)
    assert limiter.acquire("k", limits, None, MIDNIGHT).allowed
    # Redis drops the limiter's idle connection (a restart, a timeout, CLIENT KILL).
    (idle,) = limiter._idle
    idle.send_command("CLIENT", "ID")
    raw.execute_command("CLIENT", "KILL", "ID", idle.read_response())
    assert limiter.acquire("k", limits, None, MIDNIGHT).allowed
    assert not limiter.acquire("k", limits, None, MIDNIGHT).allowed
    limiter.close()


def test_the_database_the_url_names_holds_the_limits(
    redis_url: str, prefix: str, raw: redis.Redis
) -> None:
    other = redis_url.rsplit("/", 1)[0] + "/7"
    limiter = RedisLimiter(other, prefix=prefix)
    limiter.acquire("k", DAILY, Usage(5, "never"), MIDNIGHT)
    limiter.close()
    seven = redis.Redis.from_url(other, decode_responses=True)
    try:
        assert sorted(seven.keys(f"{prefix}*")) == [
            f"{prefix}{{k}}:rate:daily",
            f"{prefix}{{k}}:usage:lifetime",
        ]
        seven.delete(*seven.keys(f"{prefix}*"))
    finally:
        seven.close()
    assert raw.keys(f"{prefix}*") == []  # nothing in the database of redis_url


def test_rediss_urls_open_a_redis_limiter() -> None:
    limiter = open_limiter("rediss://127.0.0.1:6380/2", prefix="x:")
    assert isinstance(limiter, RedisLimiter)
    limiter.close()


@pytest.mark.parametrize(
    "url",
    ["redis://localhost:notaport/0", "redis://localhost:6379/zero", "redis://:hunter2@h:99999/0"],
)
def test_a_bad_redis_url_is_a_config_error_that_shows_no_password(url: str) -> None:
    with pytest.raises(ConfigError) as raised:
        open_limiter(url)
    assert "hunter2" not in str(raised.value)
