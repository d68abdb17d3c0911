"""What a run found, and how it is written: a Markdown table, the numbers as JSON.

Sections add tables of their own, fill in the goals of issue 8 that they measure, and
leave their raw numbers in ``data`` for the plots and for later runs to compare with.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.timing import Ratio, Sample

#: Issue 8's goals, in its order: (id, what is measured, the goal).
GOALS = (
    ("handwritten", "warm full check ÷ a hand-written function doing the same checks", "≤ 2×"),
    ("denials", "slowest denial path ÷ the allowed check", "≤ 1×"),
    ("casbin", "PyCasbin (RBAC + ipMatch) ÷ engine", "≥ 15×"),
    ("cedar", "cedarpy with prepared handles ÷ engine", "≥ 15×"),
    ("cerbos", "Cerbos over HTTP from Python ÷ engine", "(no goal)"),
    ("keys", "100,000 keys ÷ 10 keys, shipped default settings", "≤ 1.5×"),
    ("compile", "compile 1,000 / 10,000 rules (`Engine.from_directory`)", "< 0.5 s / < 5 s"),
    ("plan", "first check of a new route at 10,000 rules (plan build)", "< 50 µs"),
    ("http", "FastAPI req/s: dependency / middleware ÷ unprotected", "≥ 0.90"),
    ("redis", "check with the Redis limiter ÷ a bare Redis `PING`, same client", "≤ 1.3×"),
    ("memory", "memory per cached key, SQLite store (memory store)", "< 1 KiB"),
)


@dataclass
class Goal:
    measured: str
    #: Whether the goal holds; ``None`` when this run cannot say (a quick run, a part skipped).
    met: bool | None


@dataclass
class Table:
    title: str
    columns: tuple[str, ...]
    rows: list[tuple[str, ...]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, *cells: str) -> None:
        if len(cells) != len(self.columns):
            raise ValueError(f"{self.title}: a row of {len(cells)} cells for {len(self.columns)}")
        self.rows.append(cells)


@dataclass
class Report:
    quick: bool
    command: str
    machine: dict[str, str] = field(default_factory=dict)
    goals: dict[str, Goal] = field(default_factory=dict)
    tables: list[Table] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)
    plots: list[str] = field(default_factory=list)

    def goal(self, name: str, measured: str, met: bool | None) -> None:
        if name not in {goal[0] for goal in GOALS}:
            raise KeyError(f"no goal named {name!r}")
        self.goals[name] = Goal(measured, None if self.quick else met)

    def skip(self, what: str) -> None:
        self.skipped.append(what)


def micro(seconds: float) -> str:
    if seconds >= 1:
        return f"{seconds:.2f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds * 1e6:.2f} µs"


def timed(sample: Sample) -> str:
    """A median time and its spread (half the interquartile range, in percent)."""
    return f"{micro(sample.median)} ±{sample.spread * 100:.0f}%"


def times(value: Ratio) -> str:
    low, high = value.quartiles
    return f"{value.median:.2f}× ({low:.2f}–{high:.2f})"


def kib(size: float) -> str:
    return f"{size / 1024:.2f} KiB" if size >= 1024 else f"{size:.0f} B"


def markdown(report: Report) -> str:
    mode = "quick smoke run: tiny workloads, goals not judged" if report.quick else "full run"
    lines = [
        "# Benchmark results",
        "",
        f"`{report.command}` ({mode}), {report.machine.get('date', '')}.",
        "Times are medians over interleaved rounds after warm-up; ± is half the",
        "interquartile range. Ratios are medians of per-round ratios, with their",
        "interquartile range in brackets. Everything ran in one process unless it says so.",
        "Checks, peers, keys and rules are timed in the CPU time of the thread that runs",
        "them, monitoring in the process's CPU time (its writer thread included), and what",
        "waits for Redis, Cerbos or an HTTP server in wall time.",
        "",
        "## Machine",
        "",
        *_table(("", ""), list(report.machine.items()), header=False),
        "",
        "## Goals (issue 8)",
        "",
    ]
    goal_rows = []
    for name, what, target in GOALS:
        found = report.goals.get(name)
        measured = found.measured if found else "not measured in this run"
        met = "—" if found is None or found.met is None else ("yes" if found.met else "**no**")
        goal_rows.append((what, measured, target, met))
    lines += _table(("what", "measured", "goal", "met"), goal_rows)
    for table in report.tables:
        lines += ["", f"## {table.title}", "", *_table(table.columns, table.rows)]
        if table.notes:
            lines += ["", *(f"- {note}" for note in table.notes)]
    if report.skipped:
        lines += ["", "## Not measured in this run", "", *(f"- {what}" for what in report.skipped)]
    if report.plots:
        lines += ["", "## Plots", ""]
        lines += [f"![{Path(name).stem}]({name})" for name in report.plots]
    return "\n".join(lines) + "\n"


def _table(
    columns: tuple[str, ...], rows: Sequence[tuple[str, ...]], header: bool = True
) -> list[str]:
    def line(cells: tuple[str, ...]) -> str:
        return "| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |"

    if not header:
        return [line(("", "")), line(("---", "---")), *(line(row) for row in rows)]
    return [line(columns), line(tuple("---" for _ in columns)), *(line(row) for row in rows)]


def write(report: Report, directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / "results.md"
    target.write_text(markdown(report), encoding="utf-8")
    numbers = {
        "quick": report.quick,
        "command": report.command,
        "machine": report.machine,
        "goals": {name: asdict(goal) for name, goal in report.goals.items()},
        "skipped": report.skipped,
        "data": report.data,
    }
    (directory / "results.json").write_text(json.dumps(numbers, indent=2) + "\n", encoding="utf-8")
    return target
