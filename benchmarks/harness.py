"""One run of the benchmarks: what it measures, at what scale, and where it writes.

``run(quick=…, out=…)`` is what ``python -m benchmarks`` calls; later work can call it
unchanged, or call one section through ``only``. A section is a function of the
:class:`Run`; it adds its tables and goals to ``run.report`` and says what it skipped.
"""

from __future__ import annotations

import shlex
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from benchmarks.report import Report, write
from benchmarks.timing import FULL, QUICK, Budget


@dataclass(frozen=True)
class Scale:
    keys: tuple[int, ...]
    rules: tuple[int, ...]
    compile_repeats: int
    plan_samples: int
    memory_keys: int
    spray: int
    http_rounds: int
    http_seconds: float


FULL_SCALE = Scale(
    keys=(10, 100, 1_000, 10_000, 100_000),
    rules=(10, 100, 1_000, 10_000),
    compile_repeats=3,
    plan_samples=30,
    memory_keys=2_000,
    spray=30_000,
    http_rounds=9,
    http_seconds=2.0,
)
QUICK_SCALE = Scale(
    keys=(10, 100),
    rules=(10, 50),
    compile_repeats=1,
    plan_samples=5,
    memory_keys=100,
    spray=500,
    http_rounds=0,
    http_seconds=0.0,
)


@dataclass
class Run:
    budget: Budget
    scale: Scale
    report: Report
    workdir: Path
    redis_url: str | None
    cerbos: str | None

    @property
    def quick(self) -> bool:
        return self.report.quick

    def log(self, message: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


Section = Callable[[Run], None]


def sections() -> dict[str, Section]:
    """The sections, in the order they run (imported here, so that ``--only`` spares the
    others' imports)."""
    from benchmarks import cerbos, checks, limiters, memory, monitoring, scaling, web

    return {
        "checks": checks.run,
        "monitoring": monitoring.run,
        "limiters": limiters.run,
        "keys": scaling.keys,
        "rules": scaling.rules,
        "memory": memory.run,
        "cerbos": cerbos.run,
        "http": web.run,
    }


def run(
    *,
    quick: bool = False,
    out: Path,
    only: Iterable[str] | None = None,
    redis_url: str | None = "redis://127.0.0.1:6379/0",
    cerbos: str | None = "auto",
    command: str | None = None,
) -> Report:
    """Run the chosen sections (all by default), write ``results.md``, ``results.json``
    and the plots into ``out``, and return the report."""
    from benchmarks import machine, plots

    available = sections()
    chosen = list(only) if only else list(available)
    unknown = [name for name in chosen if name not in available]
    if unknown:
        raise ValueError(
            f"no section named {', '.join(unknown)}: choose from {', '.join(available)}"
        )
    report = Report(
        quick=quick,
        command=command
        or shlex.join(["python", "-m", "benchmarks", *(["--quick"] if quick else [])]),
    )
    report.machine = machine.describe(redis_url)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="policyengine-bench-") as scratch:
        current = Run(
            budget=QUICK if quick else FULL,
            scale=QUICK_SCALE if quick else FULL_SCALE,
            report=report,
            workdir=Path(scratch),
            redis_url=redis_url,
            cerbos=cerbos,
        )
        for name in chosen:
            current.log(f"{name} …")
            available[name](current)
        for name in available:
            if name not in chosen:
                report.skip(f"section `{name}`: not chosen (`--only`)")
    report.machine["load average, end"] = machine.load()
    report.machine["duration"] = f"{time.perf_counter() - started:.0f} s"
    report.plots = plots.draw(report, out)
    write(report, out)
    return report
