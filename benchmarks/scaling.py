"""How the engine scales: with the keys in use, with the rules in the policy set, in
compile time, and in the first check that needs a new plan.

Keys: one SQLite store (the shipped default) holds the largest count of keys; an engine
with default settings per count draws its requests uniformly from that many keys, all
engines timed in the same rounds. A store wrapper counts the lookups that reached the
store, which gives the lookup cache's hit rate.
"""

from __future__ import annotations

import gc
import itertools
import random
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from functools import partial
from typing import Any

from benchmarks.fixtures import INSIDE, POLICIES, SECRET, expect, issue, request, write_policies
from benchmarks.harness import Run
from benchmarks.report import Table, micro, timed, times
from benchmarks.timing import CPU, interleaved, once_each, ratio
from policyengine import Code, Engine, Request
from policyengine.keys.cache import DEFAULT_CACHE_MEMORY, ENTRY_BYTES
from policyengine.keys.hashing import KeyHasher
from policyengine.keys.manager import KeyManager
from policyengine.keys.store import KeyStore, StoredKey, open_store
from policyengine.policy.loader import load_directory


class CountingStore:
    """A key store that counts the lookups by hash that reach it (the cache's misses)."""

    def __init__(self, inner: KeyStore) -> None:
        self._inner = inner
        self.lookups = 0

    def get_by_hash(self, key_hash: str) -> StoredKey | None:
        self.lookups += 1
        return self._inner.get_by_hash(key_hash)

    def touch(self, used: Mapping[str, datetime]) -> None:
        self._inner.touch(used)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def keys(current: Run) -> None:
    counts = current.scale.keys
    url = f"sqlite:///{current.workdir / 'keys.db'}"
    # Monitoring off throughout: what scales here is the decision.
    creator = Engine.from_directory(
        POLICIES,
        environment="live",
        store=url,
        secret=SECRET,
        maintenance_interval=None,
        monitor="off",
    )
    started = time.perf_counter()
    secrets = []
    for made in range(max(counts)):
        secrets.append(issue(creator))
        if made and made % 20_000 == 0:
            current.log(f"  {made:,} keys created")
    creator.close()
    current.log(f"  {len(secrets):,} keys created in {time.perf_counter() - started:.0f} s")
    policy = load_directory(POLICIES)
    shuffle = random.Random(8)
    engines: dict[int, tuple[Engine, CountingStore]] = {}
    cases: dict[str, Callable[[], object]] = {}
    for count in counts:
        store = CountingStore(open_store(url))
        manager = KeyManager(store, lambda: policy, hasher=KeyHasher(SECRET))
        engine = Engine.from_directory(
            POLICIES, environment="live", store=url, keys=manager, monitor="off"
        )
        asked = [request(secret) for secret in secrets[:count]]
        expect(engine, asked[-1], Code.OK, f"{count} keys")
        # Every key in use has been used: a server's steady state, in which each key has
        # its answer kept and its limiter state, as it does after its first request.
        for each in asked:
            engine.check(each)
        order = itertools.cycle(
            [asked[shuffle.randrange(count)] for _ in range(max(4 * count, 50_000))]
        )
        engines[count] = (engine, store)
        cases[str(count)] = _next_check(engine, order)

    def reset_counters() -> None:
        for _, store in engines.values():
            store.lookups = 0

    try:
        warm = min(3 * max(counts), 40_000)
        samples = interleaved(
            cases, current.budget, warmup_calls=warm, before_rounds=reset_counters, clock=CPU
        )
    finally:
        for engine, _ in engines.values():
            engine.close()
    table = Table(
        f"Keys in use (SQLite store, default settings: a lookup cache of "
        f"{DEFAULT_CACHE_MEMORY // ENTRY_BYTES:,} entries, kept until a key changes and "
        "filled when the engine starts)",
        ("keys", "time per check", f"÷ {counts[0]} keys", "lookup-cache hits"),
    )
    base = samples[str(counts[0])]
    data = {}
    for count in counts:
        sample = samples[str(count)]
        hits = 1 - engines[count][1].lookups / sample.calls
        table.add(f"{count:,}", timed(sample), times(ratio(sample, base)), f"{hits:.0%}")
        data[str(count)] = {
            "median": sample.median,
            "quartiles": sample.quartiles,
            "hit_rate": hits,
        }
    table.notes.append(
        f"Each engine draws its requests uniformly from its first N keys of one store of "
        f"{max(counts):,}; a miss reads SQLite. Each engine's maintenance thread reads the "
        "store's newest keys into its cache when it starts, as many as the cache holds; a "
        "cached key stays until it changes. Every key is checked once before the rounds, "
        "as a server's keys in use have been, so that each has its answer kept and its "
        "limiter state. What still grows with the keys in use is the memory a check "
        "touches, and the processor caches it misses."
    )
    current.report.tables.append(table)
    current.report.data["keys"] = data
    top = ratio(samples[str(counts[-1])], base)
    current.report.goal(
        "keys",
        f"{times(top)} for {counts[-1]:,} ÷ {counts[0]} keys "
        f"({data[str(counts[-1])]['hit_rate']:.0%} cache hits)",
        top.median <= 1.5,
    )


def _next_check(engine: Engine, order: itertools.cycle[Request]) -> Callable[[], object]:
    check = engine.check
    return lambda: check(next(order))


def rules(current: Run) -> None:
    counts = current.scale.rules
    compiled: dict[int, Engine] = {}
    compile_times = {}
    try:
        for count in counts:
            directory = write_policies(current.workdir / f"rules-{count}", extra_rules=count - 1)
            built: list[Engine] = []

            def build(directory: Any = directory, built: list[Engine] = built) -> None:
                built.append(
                    Engine.from_directory(
                        directory,
                        environment="live",
                        store="memory://",
                        secret=SECRET,
                        monitor="off",
                    )
                )

            gc.collect()
            compile_times[count] = once_each([build] * current.scale.compile_repeats)
            for engine in built[:-1]:
                engine.close()
            compiled[count] = built[-1]
            current.log(f"  {count:,} rules compiled in {micro(compile_times[count].median)}")
        _rules_report(current, compiled, compile_times)
    finally:
        for engine in compiled.values():
            engine.close()


def _rules_report(current: Run, compiled: dict[int, Engine], compile_times: dict[int, Any]) -> None:
    counts = sorted(compiled)
    cases = {}
    for count, engine in compiled.items():
        asked = request(issue(engine))
        expect(engine, asked, Code.OK, f"{count} rules")
        cases[str(count)] = partial(engine.check, asked)
    samples = interleaved(cases, current.budget, clock=CPU)
    first, warm = {}, {}
    for count in (counts[0], counts[-1]):
        first[count], warm[count] = _plan_builds(
            compiled[count], count - 1, current.scale.plan_samples
        )
    table = Table(
        "Rules: compile time, warm check, first check that needs a new plan",
        (
            "rules",
            "`Engine.from_directory`",
            "warm check of GET /v1/events",
            f"÷ {counts[0]} rules",
            "first check of a new resource",
            "the same, warm",
        ),
    )
    base = samples[str(counts[0])]
    for count in counts:
        sample = samples[str(count)]
        built = f"{micro(first[count].median)}" if count in first else "—"
        again = f"{micro(warm[count].median)}" if count in warm else "—"
        table.add(
            f"{count:,}",
            timed(compile_times[count]),
            timed(sample),
            times(ratio(sample, base)),
            built,
            again,
        )
    table.notes.append(
        "Each rule is a deny rule with a condition, on a resource of its own (`other<i>`); "
        "tDoc's own rule is one of them. A new plan is needed by the first check of a "
        "resource and action (here `other<i>:read` by a full-access key), as by a new route."
    )
    current.report.tables.append(table)
    current.report.data["rules"] = {
        str(c): {"median": samples[str(c)].median, "quartiles": samples[str(c)].quartiles}
        for c in counts
    }
    current.report.data["compile"] = {
        str(c): {"median": compile_times[c].median, "quartiles": compile_times[c].quartiles}
        for c in counts
    }
    current.report.data["plan"] = {
        str(c): {"first": first[c].median, "warm": warm[c].median} for c in first
    }
    named = [c for c in counts if c in (1_000, 10_000)] or counts[-2:]
    goal = {1_000: 0.5, 10_000: 5.0}
    current.report.goal(
        "compile",
        " / ".join(f"{micro(compile_times[c].median)} ({c:,} rules)" for c in named),
        all(compile_times[c].median < goal.get(c, 0) for c in named),
    )
    top = counts[-1]
    current.report.goal(
        "plan",
        f"{micro(first[top].median)} at {top:,} rules (warm: {micro(warm[top].median)})",
        first[top].median < 50e-6,
    )


def _plan_builds(engine: Engine, resources: int, samples: int) -> tuple[Any, Any]:
    """Time the first check of ``samples`` resources never asked about, then again warm."""
    secret = issue(engine, type="full-access")
    chosen = sorted({round(i * (resources - 1) / max(1, samples - 1)) for i in range(samples)})
    asks = [
        Request(credential=secret, resource=f"other{i}", action="read", ip=INSIDE) for i in chosen
    ]
    checks = [partial(engine.check, asked) for asked in asks]
    expect(engine, request(secret), Code.OK, "full-access key")
    first = once_each(checks)
    warm = once_each(checks)
    for asked in asks:
        expect(engine, asked, Code.OK, f"{asked.resource}:read")
    return first, warm
