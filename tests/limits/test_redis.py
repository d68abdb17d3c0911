"""What only the Redis backend must show: one atomic step across processes, fast failure,
script reloading, expiring keys, and the same answers as the memory backend."""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import signal
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
from policyengine.limits import redis as limits_redis
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
    silent = Server(drop=False)  # accepts connections, then says nothing
    limiter = RedisLimiter(silent.url, timeout=0.2)
    started = time.monotonic()
    with pytest.raises(StorageError):
        limiter.acquire("k", DAILY, Usage(5, "daily"), MIDNIGHT)
    elapsed = time.monotonic() - started
    limiter.close()
    silent.close()
    assert 0.15 < elapsed < 0.6


def test_the_script_is_loaded_again_after_redis_forgets_it(
    redis_url: str, prefix: str, raw: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The script is called by the name Redis files it under.
    assert raw.script_load(ACQUIRE) == ACQUIRE_SHA.decode()
    # A script Redis has never held is one it has forgotten (a restart, SCRIPT FLUSH):
    # the same script with a comment of its own, so no other client's scripts are lost.
    forgotten = f"{ACQUIRE}-- {uuid.uuid4().hex}\n"
    sha = hashlib.sha1(forgotten.encode(), usedforsecurity=False).hexdigest()
    monkeypatch.setattr(limits_redis, "ACQUIRE", forgotten)
    monkeypatch.setattr(limits_redis, "ACQUIRE_SHA", sha.encode())
    assert raw.script_exists(sha) == [False]
    limiter = RedisLimiter(redis_url, prefix=prefix)
    limits = (RateLimit("default", make_rate(10, 1.0, 2)),)
    assert limiter.acquire("k", limits, None, MIDNIGHT).allowed
    assert raw.script_exists(sha) == [True]
    # From then on a check is the script called by its name, on the same connection.
    (connection,) = limiter._idle
    connection.send_command("CLIENT", "ID")
    connection_id = connection.read_response()
    assert limiter.acquire("k", limits, None, MIDNIGHT).allowed
    assert [client["cmd"] for client in raw.client_list(client_id=[connection_id])] == ["evalsha"]
    assert not limiter.acquire("k", limits, None, MIDNIGHT).allowed
    limiter.close()


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


class Server:
    """A TCP server on a free local port that speaks no Redis: it either says nothing
    (connections wait in its backlog) or closes each connection at once. It counts the
    connections it was offered, and stops listening after ``lifetime`` seconds, so that
    a client without a timeout fails rather than hangs."""

    def __init__(self, drop: bool, lifetime: float = 3.0) -> None:
        self.socket = socket.socket()
        self.socket.bind(("127.0.0.1", 0))
        self.socket.listen(8)
        self.url = "redis://{}:{}/0".format(*self.socket.getsockname())
        self.accepted = 0
        self._drop = drop
        self._closer = threading.Timer(lifetime, self.socket.close)
        self._closer.start()
        if drop:
            threading.Thread(target=self._drop_each, daemon=True).start()

    def _drop_each(self) -> None:
        while True:
            try:
                connection, _ = self.socket.accept()
            except OSError:
                return
            self.accepted += 1
            connection.close()

    def connections(self) -> int:
        """How many connections were offered so far."""
        if self._drop:
            return self.accepted
        self.socket.setblocking(False)
        while True:
            try:
                connection, _ = self.socket.accept()
            except BlockingIOError:
                return self.accepted
            self.accepted += 1
            connection.close()

    def close(self) -> None:
        self._closer.cancel()
        self.socket.close()


def check(limiter: Limiter, operation: str) -> None:
    """A check, or a reset, of key ``k``."""
    if operation == "reset":
        limiter.reset("k")
    else:
        limiter.acquire("k", DAILY, None, MIDNIGHT)


@pytest.mark.parametrize("operation", ["acquire", "reset"])
def test_by_default_a_redis_that_never_answers_costs_one_quarter_second_timeout(
    operation: str,
) -> None:
    silent = Server(drop=False)
    limiter = RedisLimiter(silent.url)
    started = time.monotonic()
    with pytest.raises(StorageError, match="rate-limit store failed: Timeout"):
        check(limiter, operation)
    elapsed = time.monotonic() - started
    limiter.close()
    assert silent.connections() == 1  # a timeout is not retried
    silent.close()
    assert 0.2 < elapsed < 0.9


@pytest.mark.parametrize("operation", ["acquire", "reset"])
def test_a_connection_that_breaks_is_tried_once_more_and_no_more(operation: str) -> None:
    dropping = Server(drop=True)
    limiter = RedisLimiter(dropping.url)
    with pytest.raises(StorageError, match=r"^rate-limit store failed: "):
        check(limiter, operation)
    limiter.close()
    time.sleep(0.05)
    assert dropping.connections() == 2
    dropping.close()


def test_a_connection_redis_closed_is_opened_again_without_failing_the_request(
    redis_url: str, prefix: str, raw: redis.Redis
) -> None:
    limiter = RedisLimiter(redis_url, prefix=prefix)
    limits = (RateLimit("default", make_rate(10, 1.0, 3)),)
    assert limiter.acquire("k", limits, None, MIDNIGHT).allowed
    connection_id = limiter._client.client_id()
    raw.client_kill_filter(_id=connection_id)  # as a Redis restart or idle timeout would
    assert limiter.acquire("k", limits, None, MIDNIGHT).allowed
    assert limiter.acquire("k", limits, None, MIDNIGHT).allowed
    assert not limiter.acquire("k", limits, None, MIDNIGHT).allowed
    limiter.close()


def test_a_reset_on_a_connection_redis_closed_opens_it_again_without_failing(
    redis_url: str, prefix: str, raw: redis.Redis
) -> None:
    limiter = RedisLimiter(redis_url, prefix=prefix)
    limits = (RateLimit("default", parse_rate("1/minute")),)
    limiter.reset("k")  # leaves a pooled connection for the next reset
    raw.client_kill_filter(_id=limiter._client.client_id())
    assert limiter.acquire("k", limits, None, MIDNIGHT).allowed
    limiter.reset("k")
    assert limiter.acquire("k", limits, None, MIDNIGHT).allowed
    limiter.close()


def test_a_forked_child_shares_the_limits_and_uses_connections_of_its_own(
    redis_url: str, prefix: str
) -> None:
    limiter = RedisLimiter(redis_url, prefix=prefix)
    limits = (RateLimit("default", make_rate(10, 1.0, 3)),)
    assert limiter.acquire("k", limits, None, MIDNIGHT).allowed
    (inherited,) = limiter._idle
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - the child reports through the pipe
        try:
            admitted = [limiter.acquire("k", limits, None, MIDNIGHT).allowed]
            (first,) = limiter._idle
            admitted.append(limiter.acquire("k", limits, None, MIDNIGHT).allowed)
            (second,) = limiter._idle
            report = {"admitted": admitted, "own": first is not inherited, "kept": second is first}
        except BaseException as error:
            report = {"error": repr(error)}
        finally:
            os.write(write, json.dumps(report).encode())
            os._exit(0)
    os.close(write)
    deadline = time.monotonic() + 20
    while os.waitpid(child, os.WNOHANG) == (0, 0):
        if time.monotonic() > deadline:
            os.kill(child, signal.SIGKILL)
            os.waitpid(child, 0)
            pytest.fail("the forked child did not finish")
        time.sleep(0.01)
    with os.fdopen(read, "rb") as pipe:
        report = json.loads(pipe.read())
    assert report == {"admitted": [True, True], "own": True, "kept": True}
    # The parent's own connection still works, and the child's requests counted.
    assert not limiter.acquire("k", limits, None, MIDNIGHT).allowed
    assert limiter._idle == [inherited]
    limiter.close()


def test_an_unreachable_redis_says_why_in_the_storage_error() -> None:
    limiter = RedisLimiter("redis://127.0.0.1:1/0")
    refused = (
        r"^rate-limit store failed: Error 111 connecting to 127\.0\.0\.1:1\. Connection refused"
    )
    with pytest.raises(StorageError, match=refused):
        limiter.acquire("k", DAILY, None, MIDNIGHT)
    with pytest.raises(StorageError, match=refused):
        limiter.reset("k")
    limiter.close()


@pytest.mark.parametrize(
    ("reply", "problem"),
    [
        ([b"1", b"many"], r"^rate-limit store answered \[b'1', b'many'\]: invalid"),
        ([1], r"^rate-limit store answered \[1\] for 1 limits$"),
        ([1, 0, 0], r"^rate-limit store answered \[1, 0, 0\] for 1 limits$"),
        ([0, 0], r"^rate-limit script and evaluator disagree$"),
    ],
)
def test_an_answer_the_limiter_cannot_trust_is_a_storage_error_that_names_it(
    redis_url: str, prefix: str, reply: list[object], problem: str
) -> None:
    # What a Redis proxy that mangles replies, or a script of another version, answers.
    limiter = RedisLimiter(redis_url, prefix=prefix)
    limiter._run = lambda keys, args: reply  # type: ignore[method-assign]
    with pytest.raises(StorageError, match=problem):
        limiter.acquire("k", DAILY, None, MIDNIGHT)
    limiter.close()


def test_credits_are_counted_until_their_period_ends_and_a_second_more(
    redis_url: str, prefix: str, raw: redis.Redis
) -> None:
    limiter = RedisLimiter(redis_url, prefix=prefix)
    limiter.acquire("k", (), Usage(10, "daily"), MIDNIGHT)  # the first instant of a day
    limiter.close()
    ttl = raw.pttl(f"{prefix}{{k}}:usage:2026-11-26")
    assert 86_401_000 - 200 < ttl <= 86_401_000


@pytest.mark.parametrize(
    ("url", "message"),
    [
        (
            "redis://localhost:6379/X",
            "invalid limiter URL 'redis://localhost:6379/X': the database must be a number, "
            "as in redis://localhost:6379/0",
        ),
        (
            "redis://:hunter2@localhost:notaport/0",
            "invalid limiter URL 'redis://:***@localhost:notaport/0': "
            "Port could not be cast to integer value as 'notaport'",
        ),
    ],
)
def test_a_bad_redis_url_says_what_is_wrong_with_it(url: str, message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        RedisLimiter(url)
    assert str(raised.value) == message
