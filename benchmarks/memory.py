"""Memory per key, by tracemalloc: what the lookup cache holds for a key once it has been
looked up, and what one check of it leaves behind in all (cache, last-use note, limiter
state, limits in force, key reference), for the memory and the SQLite store.

A memory store already holds every record, and its cache entries point at them; an
SQLite store's cache holds records built from rows, so its entries cost more.
"""

from __future__ import annotations

import gc
import tracemalloc
from collections.abc import Callable

from benchmarks.fixtures import SECRET, Keyring, issue, policy_set, request
from benchmarks.harness import Run
from benchmarks.report import Table, kib
from policyengine import Engine


def traced_growth(action: Callable[[], object]) -> int:
    """Bytes still allocated after ``action``, that were not before it."""
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        kept = action()
        gc.collect()
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    del kept
    return after - before


def _per_key(engine: Engine, count: int) -> tuple[float, float]:
    secrets = [issue(engine, label=f"bench key {i}") for i in range(count)]
    gc.collect()

    def look_up() -> None:
        for secret in secrets:
            engine.keys.lookup(secret, touch=False)

    def check() -> None:
        for secret in secrets:
            engine.check(request(secret))

    cached = traced_growth(look_up)
    checked = traced_growth(check)
    return cached / count, checked / count


#: Long enough that no entry expires between the lookups and the checks measured.
TTL = 3600.0


def run(current: Run) -> None:
    count = current.scale.memory_keys
    ring = Keyring(cache_ttl=TTL)
    try:
        memory_cached, memory_checked = _per_key(ring.engine, count)
    finally:
        ring.close()
    sqlite = Engine(
        policy_set(),
        store=f"sqlite:///{current.workdir / 'memory.db'}",
        secret=SECRET,
        cache_ttl=TTL,
    )
    try:
        sqlite_cached, sqlite_checked = _per_key(sqlite, count)
    finally:
        sqlite.close()
    table = Table(
        f"Memory per key ({count:,} keys, tracemalloc)",
        ("store", "lookup cache, per cached key", "added by a first check, per key"),
    )
    table.add("memory://", kib(memory_cached), kib(memory_checked))
    table.add("sqlite:///", kib(sqlite_cached), kib(sqlite_checked))
    table.notes.append(
        "The second column is what a check adds after the lookup: the last-use note, the "
        "limiter's state, the limits in force and the key's reference in decisions."
    )
    current.report.tables.append(table)
    current.report.data["memory"] = {
        "memory": {"cached": memory_cached, "checked": memory_checked},
        "sqlite": {"cached": sqlite_cached, "checked": sqlite_checked},
    }
    current.report.goal(
        "memory",
        f"{kib(sqlite_cached)} ({kib(memory_cached)}); after a check, "
        f"{kib(sqlite_cached + sqlite_checked)} ({kib(memory_cached + memory_checked)})",
        sqlite_cached < 1024,
    )
