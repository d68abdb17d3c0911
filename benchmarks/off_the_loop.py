"""What deciding off the event loop costs: a cached key's check made inline, as the
integrations make it (``Engine.try_check``), beside the same check handed to a worker
thread every time, in one event loop, interleaved; the result is the ratio.

The integrations hand a check to a thread only when it would wait for the key store (a
cache miss) or a limiter across the network; this measures why they do not always.

    python -m benchmarks.off_the_loop [--rounds 7] [--number 5000]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from collections.abc import Awaitable, Callable

import anyio.to_thread

from benchmarks.fixtures import Keyring, request
from policyengine.integrations.lifespan import decide


async def timed(call: Callable[[], Awaitable[object]], number: int) -> float:
    started = time.perf_counter()
    for _ in range(number):
        await call()
    return (time.perf_counter() - started) / number


async def measure(rounds: int, number: int) -> tuple[float, float]:
    ring = Keyring()
    try:
        engine = ring.engine
        asked = request(ring.issue())
        if not engine.check(asked).allowed or engine.try_check(asked) is None:
            raise SystemExit("the benchmark key is not allowed, or not decided from memory")

        async def inline() -> object:
            return await decide(engine, asked)

        async def threaded() -> object:
            return await anyio.to_thread.run_sync(engine.check, asked)

        ours, always = [], []
        for _ in range(rounds):
            ours.append(await timed(inline, number))
            always.append(await timed(threaded, number))
        return statistics.median(ours), statistics.median(always)
    finally:
        ring.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--number", type=int, default=5000)
    args = parser.parse_args(argv)
    inline, threaded = asyncio.run(measure(args.rounds, args.number))
    print(f"cached key, decided inline      {inline * 1e6:8.2f} µs   (1.00×)")
    print(f"same check in a worker thread   {threaded * 1e6:8.2f} µs   ({threaded / inline:.1f}×)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
