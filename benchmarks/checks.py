"""The full check on tDoc's policies: the engine, the hand-written floor, the in-process
peers, and every path through the engine, all timed in the same rounds.

An attack arrives as denied requests, so each denial should cost no more than the
allowed check; a spray of unknown keys is timed against the memory and the SQLite store.
"""

from __future__ import annotations

import itertools
from functools import partial

from benchmarks import peers
from benchmarks.fixtures import INSIDE, NETWORK, POLICIES, SECRET, Keyring, expect
from benchmarks.handwritten import handwritten_checker
from benchmarks.harness import Run
from benchmarks.paths import ALLOWED, SPRAY, engine_paths, spray_requests
from benchmarks.report import Table, micro, timed, times
from benchmarks.timing import CPU, Case, Ratio, Sample, interleaved, ratio
from policyengine import Code, Engine, Request

HAND = "hand-written check (the floor)"
CASBIN = "PyCasbin `enforce` (RBAC + ipMatch)"
CEDAR = "cedarpy `is_authorized`, prepared handles"
SPRAY_MEMORY = f"{SPRAY} (memory store)"
SPRAY_SQLITE = f"{SPRAY} (SQLite store)"


def _cycling(engine: Engine, count: int) -> Case:
    pool = itertools.cycle(spray_requests(engine.keys.key_format, count))
    check = engine.check
    return lambda: check(next(pool))


def run(current: Run) -> None:
    ring = Keyring()
    sqlite = Engine.from_directory(
        POLICIES,
        environment="live",
        store=f"sqlite:///{current.workdir / 'spray.db'}",
        secret=SECRET,
        monitor="off",  # the lookups alone: monitoring is a section of its own
        handle_signals=False,
    )
    try:
        paths = engine_paths(ring)
        cases = _cases(current, ring, sqlite, paths)
        samples = interleaved(cases, current.budget, clock=CPU)
        for name, (asked, code) in paths.items():
            expect(ring.engine, asked, code, f"{name} (after timing)")
    finally:
        ring.close()
        sqlite.close()
    codes = {name: code for name, (_, code) in paths.items()}
    codes[SPRAY_MEMORY] = codes[SPRAY_SQLITE] = Code.NOT_FOUND
    _report(current, samples, codes)


def _cases(
    current: Run, ring: Keyring, sqlite: Engine, paths: dict[str, tuple[Request, Code]]
) -> dict[str, Case]:
    reader = paths[ALLOWED][0].credential
    assert reader is not None
    hand = handwritten_checker(
        SECRET.encode(),
        reader,
        scopes=["events:read", "tasks:read", "hooks:read"],
        cidrs=[NETWORK],
        per_minute=1_000_000,
    )
    if hand(reader, "GET", "/v1/events", INSIDE) != 200:
        raise AssertionError("the hand-written check refuses the allowed request")
    cases: dict[str, Case] = {HAND: partial(hand, reader, "GET", "/v1/events", INSIDE)}
    for name, (asked, code) in paths.items():
        expect(ring.engine, asked, code, name)
        cases[name] = partial(ring.engine.check, asked)
    cases[SPRAY_MEMORY] = _cycling(ring.engine, current.scale.spray)
    cases[SPRAY_SQLITE] = _cycling(sqlite, current.scale.spray)
    cases[CASBIN] = peers.casbin_check()
    cases[CEDAR] = peers.cedar_check()
    return cases


def _report(current: Run, samples: dict[str, Sample], codes: dict[str, Code]) -> None:
    report = current.report
    allowed = samples[ALLOWED]
    overview = Table(
        "Full check on tDoc's policies, beside the floor and the in-process peers",
        ("what", "time per check", "÷ engine's allowed check"),
    )
    for name in (HAND, ALLOWED, CASBIN, CEDAR):
        overview.add(name, timed(samples[name]), times(ratio(samples[name], allowed)))
    overview.notes.append(
        "The peers are handed the key's role and network, as a service would after its own "
        "lookup: neither hashes the key, keeps key state nor limits rates."
    )
    report.tables.append(overview)

    table = Table(
        "Every path through the engine (an attack arrives as denied requests)",
        ("path", "code", "time per check", "÷ allowed check"),
    )
    denials: dict[str, Ratio] = {}
    for name, code in codes.items():
        share = ratio(samples[name], allowed)
        table.add(name, code.value, timed(samples[name]), times(share))
        if code is not Code.OK:
            denials[name] = share
    table.notes.append(
        "A JWT's signature is checked once and the token remembered, with its claims if it "
        "verified (its times are checked on every use) or with the key it failed under if not."
    )
    report.tables.append(table)

    floor = ratio(allowed, samples[HAND])
    report.goal(
        "handwritten",
        f"{times(floor)}: {micro(allowed.median)} ÷ {micro(samples[HAND].median)}",
        floor.median <= 2,
    )
    worst = max(denials, key=lambda name: denials[name].median)
    report.goal(
        "denials",
        f"{times(denials[worst])}: {worst} ({codes[worst].value})",
        denials[worst].median <= 1,
    )
    for goal, name in (("casbin", CASBIN), ("cedar", CEDAR)):
        share = ratio(samples[name], allowed)
        report.goal(goal, f"{times(share)}: {micro(samples[name].median)}", share.median >= 15)
    report.data["checks"] = {
        name: {
            "median": sample.median,
            "quartiles": sample.quartiles,
            "code": codes[name].value if name in codes else None,
        }
        for name, sample in samples.items()
    }
