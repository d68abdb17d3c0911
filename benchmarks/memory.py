"""Memory per key, by tracemalloc: what the lookup cache holds for a key once it has been
looked up, and what one check of it then adds (last-use note, limiter state, limits in
force, key reference), for the memory and the SQLite store.

Each store is measured in a fresh process, so that what earlier work left in the
process (module-level caches that grow and shrink in steps) does not count. A memory
store already holds every record and its cache entries point at them; an SQLite store's
cache holds records built from rows.

    python -m benchmarks.memory STORE_URL COUNT     (prints the two figures as JSON)
"""

from __future__ import annotations

import gc
import json
import subprocess
import sys
import tracemalloc
from collections.abc import Callable

from benchmarks.fixtures import ROOT, SECRET, BenchmarkError, issue, policy_set, request
from benchmarks.harness import Run
from benchmarks.report import Table, kib
from policyengine import Engine

#: Long enough that no entry expires between the lookups and the checks measured.
TTL = 3600.0


def traced_growth(action: Callable[[], object]) -> int:
    """Bytes still allocated after ``action``, that were not before it."""
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        action()
        gc.collect()
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    return after - before


def per_key(store: str, count: int) -> tuple[float, float]:
    """Bytes per key held by the lookup cache, and added by a first check."""
    # Monitoring off: the records it keeps are not the key cache's memory.
    with Engine(
        policy_set(),
        environment="live",
        store=store,
        secret=SECRET,
        cache_ttl=TTL,
        monitor="off",
        handle_signals=False,
    ) as engine:
        secrets = [issue(engine, label=f"bench key {i}") for i in range(count)]

        def look_up() -> None:
            for secret in secrets:
                engine.keys.lookup(secret, touch=False)

        def check() -> None:
            for secret in secrets:
                engine.check(request(secret))

        cached = traced_growth(look_up)
        checked = traced_growth(check)
    return cached / count, checked / count


def _measured(store: str, count: int) -> tuple[float, float]:
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.memory", store, str(count)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if done.returncode != 0:
        raise BenchmarkError(f"measuring memory with {store} failed: {done.stderr[-500:]}")
    cached, checked = json.loads(done.stdout)
    return float(cached), float(checked)


def run(current: Run) -> None:
    count = current.scale.memory_keys
    figures = {
        "memory": _measured("memory://", count),
        "sqlite": _measured(f"sqlite:///{current.workdir / 'memory.db'}", count),
    }
    table = Table(
        f"Memory per key ({count:,} keys, tracemalloc)",
        ("store", "lookup cache, per cached key", "added by a first check, per key"),
    )
    for name, (cached, checked) in figures.items():
        table.add("memory://" if name == "memory" else "sqlite:///", kib(cached), kib(checked))
    table.notes.append(
        "The second column is what a check adds after the lookup: the last-use note, the "
        "limiter's state, the limits in force and the key's reference in decisions. Each "
        "store is measured in a fresh process, with the cache's lifetime raised to an hour "
        "so that no entry is read twice."
    )
    current.report.tables.append(table)
    current.report.data["memory"] = {
        name: {"cached": cached, "checked": checked} for name, (cached, checked) in figures.items()
    }
    (memory_cached, memory_checked), (sqlite_cached, sqlite_checked) = figures.values()
    current.report.goal(
        "memory",
        f"{kib(sqlite_cached)} ({kib(memory_cached)}); after a check, "
        f"{kib(sqlite_cached + sqlite_checked)} ({kib(memory_cached + memory_checked)})",
        sqlite_cached < 1024,
    )


if __name__ == "__main__":
    print(json.dumps(per_key(sys.argv[1], int(sys.argv[2]))))
