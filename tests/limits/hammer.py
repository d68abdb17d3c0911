"""A worker for the multi-process test: a module of its own, so a spawned child imports
it without importing pytest's test modules."""

from __future__ import annotations

import time
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier

from policyengine.limits.redis import RedisLimiter
from policyengine.policy.model import RateLimit
from policyengine.record import Usage


def hammer(
    url: str,
    prefix: str,
    limits: tuple[RateLimit, ...],
    usage: Usage | None,
    attempts: int,
    start: Barrier,
    results: Queue[int],
) -> None:
    """Try ``attempts`` requests on one key as fast as possible; report how many passed."""
    limiter = RedisLimiter(url, prefix=prefix)
    try:
        limiter.peek("shared", limits, usage, time.time())  # connect before the race
        start.wait(timeout=30)
        passed = sum(
            limiter.acquire("shared", limits, usage, time.time()).allowed for _ in range(attempts)
        )
        results.put(passed)
    finally:
        limiter.close()
