"""Monitoring on beside monitoring off: what recording every decision adds to a check.

Three engines over the same policies and key, timed in the same rounds: one with
monitoring off; one recording into a SQLite monitor whose writer is held asleep while
the rounds run, so that what is timed is the check and its one append (what a request
waits for); and one recording into another, flushed every ``FLUSH_EVERY`` checks, so
that the writer's work on the check's behalf is timed too (what the process spends).
Like every batch of the harness, these run with the garbage collector paused, and all
three are timed by the process's CPU time, which counts the writer thread's work.
"""

from __future__ import annotations

import time
from functools import partial

import policyengine.monitor.stream
from benchmarks.fixtures import Keyring, expect, request
from benchmarks.harness import Run
from benchmarks.report import Table, timed, times
from benchmarks.timing import Case, interleaved, ratio
from policyengine import Code, Engine

OFF = "allowed check, monitoring off"
ALONE = "… monitoring on (SQLite): the check alone"
WRITTEN = "… monitoring on (SQLite): the check and its writing"
#: How many checks the writing case lets queue before it waits for them to be written.
FLUSH_EVERY = 256
#: Big enough that no decision of a run is dropped while the writer sleeps.
QUEUE = 10_000_000


def run(current: Run) -> None:
    off = Keyring()
    resting = policyengine.monitor.stream.DEFAULT_INTERVAL
    policyengine.monitor.stream.DEFAULT_INTERVAL = 3600.0  # only a flush wakes the writer
    try:
        alone = Keyring(monitor=_url(current, "alone"), monitor_queue=QUEUE)
    finally:
        policyengine.monitor.stream.DEFAULT_INTERVAL = resting
    written = Keyring(monitor=_url(current, "written"), monitor_queue=QUEUE)
    try:
        cases: dict[str, Case] = {
            OFF: _check(off),
            ALONE: _check(alone),
            WRITTEN: _flushing(written.engine, _check(written)),
        }
        samples = interleaved(cases, current.budget, clock=time.process_time)
        alone.engine.flush()
        written.engine.flush()
        stats = {ALONE: alone.engine.monitor.stats(), WRITTEN: written.engine.monitor.stats()}
    finally:
        for ring in (off, alone, written):
            ring.close()
    if any(s.dropped for s in stats.values()):
        raise AssertionError("the monitor dropped decisions while it was timed")
    table = Table(
        "Monitoring: every decision recorded, beside none",
        ("what", "time per check", "÷ monitoring off"),
    )
    for name in (OFF, ALONE, WRITTEN):
        table.add(name, timed(samples[name]), times(ratio(samples[name], samples[OFF])))
    table.notes += [
        "The check alone is what a request waits for: one tuple appended to the monitor's "
        "queue. The check and its writing adds the writer thread's work for it — the record, "
        "usage, metrics, the detectors and the SQLite insert — which, in one Python "
        "process, takes the same interpreter lock as the checks.",
        f"{stats[ALONE].written + stats[WRITTEN].written:,} decisions recorded, none dropped.",
    ]
    current.report.tables.append(table)
    current.report.data["monitoring"] = {
        "alone": ratio(samples[ALONE], samples[OFF]).median,
        "written": ratio(samples[WRITTEN], samples[OFF]).median,
    }


def _url(current: Run, name: str) -> str:
    return f"sqlite:///{current.workdir / f'{name}.monitor.db'}"


def _check(ring: Keyring) -> Case:
    asked = request(ring.issue())
    expect(ring.engine, asked, Code.OK, "monitoring")
    return partial(ring.engine.check, asked)


def _flushing(engine: Engine, check: Case) -> Case:
    count = 0

    def case() -> None:
        nonlocal count
        check()
        count += 1
        if count % FLUSH_EVERY == 0:
            engine.flush()

    return case
