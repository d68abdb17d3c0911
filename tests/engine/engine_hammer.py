"""Run in a spawned process: check one key ``attempts`` times and report the codes."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

from policyengine.engine import Engine
from policyengine.request import Request


def hammer(
    policies: Path,
    store: str,
    limiter: str,
    hashing_secret: str,
    key: str,
    attempts: int,
    results: multiprocessing.Queue,  # type: ignore[type-arg]
) -> None:
    with Engine.from_directory(
        policies,
        environment="live",
        store=store,
        secret=hashing_secret,
        limiter=limiter,
        maintenance_interval=None,
    ) as engine:
        request = Request(credential=key, method="GET", path="/v1/events", ip="203.0.113.9")
        results.put([engine.check(request).code.value for _ in range(attempts)])
