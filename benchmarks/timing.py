"""Side-by-side timing on a shared, noisy machine.

Every case of a comparison is warmed up, then timed in rounds; within a round each case
runs one batch, in an order that rotates and reverses from round to round, so that a
slow spell of the machine falls on all cases alike. A result is the median over rounds,
with the interquartile range as its spread, and a ratio is the median of the per-round
ratios of two cases timed in the same rounds: drift that hits both cancels out.

A case that runs in this thread alone is timed by the thread's CPU time (:data:`CPU`): on a
machine other work shares, what the case costs, without the time it spent waiting for a
core. A case whose work is done elsewhere in part (a server, another thread of the
process) is timed by the wall clock or the process's CPU time, as its section says.
"""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

Case = Callable[[], object]
Clock = Callable[[], float]

#: The CPU time of the calling thread: for cases that do all their work in it.
CPU: Clock = time.thread_time
#: The wall clock: for cases that wait for another process or the network.
WALL: Clock = time.perf_counter


@dataclass(frozen=True)
class Budget:
    """How long to time: ``rounds`` batches per case, each about ``batch`` seconds."""

    rounds: int
    batch: float
    warmup: float

    @property
    def quick(self) -> bool:
        return self.rounds < 5


FULL = Budget(rounds=15, batch=0.04, warmup=0.2)
QUICK = Budget(rounds=3, batch=0.003, warmup=0.01)


@dataclass(frozen=True)
class PerRound:
    """One number per round, summed up by its median and quartiles."""

    values: tuple[float, ...]

    @property
    def median(self) -> float:
        return statistics.median(self.values)

    @property
    def quartiles(self) -> tuple[float, float]:
        return quartiles(self.values)


@dataclass(frozen=True)
class Ratio(PerRound):
    """``a ÷ b`` per round, for two samples timed in the same rounds."""


@dataclass(frozen=True)
class Sample(PerRound):
    """Seconds per call (or any per-round value), one number per round, and how many
    calls were timed in all."""

    calls: int = 0

    @property
    def spread(self) -> float:
        """Half the interquartile range, relative to the median."""
        low, high = self.quartiles
        return (high - low) / 2 / self.median if self.median else 0.0


def quartiles(values: Sequence[float]) -> tuple[float, float]:
    if len(values) < 2:
        return values[0], values[0]
    q1, _, q3 = statistics.quantiles(values, n=4, method="inclusive")
    return q1, q3


def ratio(a: Sample, b: Sample) -> Ratio:
    if len(a.values) != len(b.values):
        raise ValueError("a ratio needs two samples timed in the same rounds")
    return Ratio(tuple(x / y for x, y in zip(a.values, b.values, strict=True)))


def batch(case: Case, number: int, clock: Clock = WALL) -> float:
    """Seconds per call over ``number`` calls, with the collector paused as timeit does."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        started = clock()
        for _ in range(number):
            case()
        return (clock() - started) / number
    finally:
        if collecting:
            gc.enable()


def calibrate(case: Case, seconds: float) -> int:
    """How many calls take about ``seconds``: at least one."""
    number = 1
    while True:
        started = time.perf_counter()
        for _ in range(number):
            case()
        taken = time.perf_counter() - started
        if taken >= seconds / 4 or number >= 1 << 24:
            return max(1, round(number * seconds / max(taken, 1e-9)))
        number *= 4


def interleaved(
    cases: Mapping[str, Case],
    budget: Budget,
    *,
    warmup_calls: int = 0,
    before_rounds: Callable[[], None] | None = None,
    clock: Clock = WALL,
) -> dict[str, Sample]:
    """Time every case in the same rounds; see the module's docstring."""
    names = list(cases)
    for name in names:
        _warm(cases[name], budget.warmup, warmup_calls)
    numbers = {name: calibrate(cases[name], budget.batch) for name in names}
    if before_rounds is not None:
        before_rounds()
    values: dict[str, list[float]] = {name: [] for name in names}
    for round_ in range(budget.rounds):
        shift = round_ % len(names)
        order = names[shift:] + names[:shift]
        if round_ % 2:
            order.reverse()
        for name in order:
            values[name].append(batch(cases[name], numbers[name], clock))
    return {name: Sample(tuple(values[name]), numbers[name] * budget.rounds) for name in names}


def _warm(case: Case, seconds: float, calls: int) -> None:
    for _ in range(calls):
        case()
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        case()


def once_each(cases: Sequence[Case]) -> Sample:
    """One timed call of each case: for what is slow, or changes after its first call."""
    return Sample(tuple(_timed_once(case) for case in cases), len(cases))


def _timed_once(case: Case) -> float:
    started = time.perf_counter()
    case()
    return time.perf_counter() - started
