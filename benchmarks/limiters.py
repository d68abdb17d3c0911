"""Our limiters beside the ``limits`` library, in memory and in Redis, and a full check
with the Redis limiter beside a bare ``PING`` from the same client: the round trip is the
floor of anything Redis does, so their ratio is what the limiter adds to it."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from functools import partial
from typing import Any

from benchmarks.fixtures import Keyring, expect, request
from benchmarks.harness import Run
from benchmarks.report import Table, micro, timed, times
from benchmarks.timing import interleaved, ratio
from policyengine import Code
from policyengine.limits import MemoryLimiter, open_limiter
from policyengine.policy.model import RateLimit
from policyengine.units import parse_rate

LIMIT = "1000000/minute"
OURS_MEMORY = "ours, memory: `acquire`"
OURS_REDIS = "ours, Redis: `acquire` (one EVALSHA)"
PING = "bare Redis `PING`, the limiter's own client"
RAW_PING = "bare Redis `PING`, pre-packed on a connection of its own"
CHECK_MEMORY = "engine.check, memory limiter"
CHECK_REDIS = "engine.check, Redis limiter"


def _limits_cases(
    storage_url: str, prefix: str | None
) -> tuple[dict[str, Callable[[], object]], Callable[[], None]]:
    """The ``limits`` library's fixed window and sliding window counter over one storage."""
    import limits
    from limits import storage, strategies

    item = limits.parse(LIMIT)
    where = "memory" if prefix is None else "Redis"
    options = {} if prefix is None else {"key_prefix": prefix}
    stores: list[Any] = []
    cases: dict[str, Callable[[], object]] = {}
    for name, strategy in (
        ("fixed window", strategies.FixedWindowRateLimiter),
        ("sliding window counter", strategies.SlidingWindowCounterRateLimiter),
    ):
        # A storage each: limits' memory storage runs a timer thread of its own.
        store = storage.storage_from_string(storage_url, **options)
        stores.append(store)
        limiter = strategy(store)
        if not limiter.hit(item, "bench"):
            raise RuntimeError(f"limits' {name} refuses the first hit")
        cases[f"limits, {where}: {name} `hit`"] = partial(limiter.hit, item, "bench")

    def clean() -> None:
        if prefix is not None:
            for store in stores:
                store.reset()  # deletes only the keys under this run's prefix

    return cases, clean


def run(current: Run) -> None:
    report = current.report
    rate = (RateLimit("default", parse_rate(LIMIT)),)
    memory = MemoryLimiter()
    clock = time.time
    cases: dict[str, Callable[[], object]] = {
        OURS_MEMORY: lambda: memory.acquire("key_bench", rate, None, clock()),
    }
    try:
        found, _ = _limits_cases("memory://", None)
        cases.update(found)
    except ImportError:
        report.skip("the `limits` library: not installed (pip install -e '.[bench]')")
    ring = Keyring()
    secret = ring.issue()
    asked = request(secret)
    expect(ring.engine, asked, Code.OK, CHECK_MEMORY)
    cases[CHECK_MEMORY] = partial(ring.engine.check, asked)
    cleanups: list[Callable[[], None]] = []
    redis_ring = None
    try:
        if current.redis_url and _reachable(current.redis_url):
            prefix = f"policyengine-bench:{uuid.uuid4().hex}:"
            ours = open_limiter(current.redis_url, prefix=prefix)
            client = ours._client  # type: ignore[attr-defined]  # the same client, by design
            cases[OURS_REDIS] = lambda: ours.acquire("key_bench", rate, None, clock())
            cases[PING] = client.ping
            pool = client.connection_pool
            bare = pool.connection_class(**pool.connection_kwargs)
            cases[RAW_PING] = partial(_raw_ping, bare)
            cleanups.append(bare.disconnect)
            cleanups.append(lambda: ours.reset("key_bench"))
            try:
                found, clean = _limits_cases(current.redis_url, prefix.rstrip(":") + "-limits")
                cases.update(found)
                cleanups.append(clean)
            except ImportError:
                pass
            redis_ring = Keyring(limiter=open_limiter(current.redis_url, prefix=prefix))
            redis_secret = redis_ring.issue()
            redis_asked = request(redis_secret)
            expect(redis_ring.engine, redis_asked, Code.OK, CHECK_REDIS)
            cases[CHECK_REDIS] = partial(redis_ring.engine.check, redis_asked)
            key = redis_ring.engine.keys.lookup(redis_secret, touch=False)
            assert key is not None
            cleanups.append(partial(redis_ring.engine.limiter.reset, key.id))
        else:
            report.skip(f"Redis limiters and `PING`: no Redis answered at {current.redis_url}")
        samples = interleaved(cases, current.budget)
        expect(ring.engine, asked, Code.OK, f"{CHECK_MEMORY} (after timing)")
    finally:
        for cleanup in cleanups:
            cleanup()
        ring.close()
        if redis_ring is not None:
            redis_ring.close()

    table = Table(
        "Rate limiters: ours beside the `limits` library (one limit, one key)",
        ("what", "time per call", "÷ ours, same storage"),
    )
    for name, sample in samples.items():
        base = OURS_REDIS if "Redis" in name and OURS_REDIS in samples else OURS_MEMORY
        if name.startswith("engine.check"):
            base = name
        table.add(name, timed(sample), times(ratio(sample, samples[base])))
    table.notes.append(
        "`limits` has no GCRA; its fixed window is its cheapest strategy and the sliding "
        "window counter its closest to GCRA's smoothness. Ours returns the state for the "
        "RateLimit headers too. `limits`' memory storage restarts a timer thread every "
        "10 ms while it is used; on a busy machine the GIL hand-offs it causes make its "
        "times vary widely from run to run."
    )
    if RAW_PING in samples:
        table.notes.append(
            "Our Redis limiter packs its `EVALSHA` itself and sends it on a connection of its "
            "own, as the pre-packed `PING` is sent; the client's `PING` goes through "
            "redis-py's command dispatch and connection pool, which cost more than the "
            "packing."
        )
    report.tables.append(table)
    if CHECK_REDIS in samples:
        over_ping = ratio(samples[CHECK_REDIS], samples[PING])
        acquire_over_ping = ratio(samples[OURS_REDIS], samples[PING])
        over_raw = ratio(samples[CHECK_REDIS], samples[RAW_PING])
        report.goal(
            "redis",
            f"{times(over_ping)}: {micro(samples[CHECK_REDIS].median)} ÷ "
            f"{micro(samples[PING].median)} (`acquire` alone: {acquire_over_ping.median:.2f}×; "
            f"÷ a pre-packed `PING` on a bare connection: {over_raw.median:.2f}×)",
            over_ping.median <= 1.3,
        )
    report.data["limiters"] = {
        name: {"median": s.median, "quartiles": s.quartiles} for name, s in samples.items()
    }


def _raw_ping(connection: Any) -> object:
    connection.send_packed_command((b"*1\r\n$4\r\nPING\r\n",), check_health=False)
    return connection.read_response()


def _reachable(url: str) -> bool:
    import redis

    client = redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1)
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False
    finally:
        client.close()
