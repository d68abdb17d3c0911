"""PNG plots of a run's numbers (matplotlib, Agg backend: no display needed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from benchmarks.report import Report


def draw(report: Report, out: Path) -> list[str]:
    """Draw what the run measured; return the file names written into ``out``."""
    try:
        import matplotlib
    except ImportError:
        report.skip("plots: matplotlib is not installed (pip install -e '.[bench]')")
        return []
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    written = []
    data = report.data
    for name, painter in (
        ("checks.png", _checks),
        ("limiters.png", _limiters),
        ("scaling.png", _scaling),
        ("http.png", _http),
    ):
        figure = painter(plt, data)
        if figure is None:
            continue
        figure.savefig(out / name, dpi=110, bbox_inches="tight")
        plt.close(figure)
        written.append(name)
    return written


def _bars(plt: Any, rows: dict[str, dict[str, Any]], title: str, unit: str = "µs") -> Any:
    names = list(rows)
    medians = [rows[n]["median"] * 1e6 for n in names]
    errors = [
        [max(0.0, (rows[n]["median"] - rows[n]["quartiles"][0]) * 1e6) for n in names],
        [max(0.0, (rows[n]["quartiles"][1] - rows[n]["median"]) * 1e6) for n in names],
    ]
    figure, axes = plt.subplots(figsize=(9, 0.32 * len(names) + 1.4))
    colors = ["#c0392b" if rows[n].get("code") not in (None, "OK") else "#2e86c1" for n in names]
    axes.barh(names, medians, xerr=errors, color=colors)
    axes.invert_yaxis()
    axes.set_xscale("log")
    axes.set_xlabel(f"time per call ({unit}, log scale; median and interquartile range)")
    axes.set_title(title)
    axes.grid(axis="x", which="both", alpha=0.3)
    return figure


def _checks(plt: Any, data: dict[str, Any]) -> Any:
    if "checks" not in data:
        return None
    rows = dict(data["checks"])
    rows.update(data.get("cerbos", {}))
    return _bars(plt, rows, "One check: engine paths (red: denials), the floor and the peers")


def _limiters(plt: Any, data: dict[str, Any]) -> Any:
    if "limiters" not in data:
        return None
    return _bars(plt, data["limiters"], "Rate limiters: ours beside the limits library")


def _scaling(plt: Any, data: dict[str, Any]) -> Any:
    keys, rules, compiled = data.get("keys"), data.get("rules"), data.get("compile")
    if not (keys or rules or compiled):
        return None
    figure, (left, middle, right) = plt.subplots(1, 3, figsize=(14, 4))
    if keys:
        counts = [int(n) for n in keys]
        left.plot(counts, [keys[n]["median"] * 1e6 for n in keys], "o-", label="time per check")
        left.set_xscale("log")
        left.set_xlabel("keys in use (SQLite store, default settings)")
        left.set_ylabel("µs per check")
        hits = left.twinx()
        hits.plot(counts, [keys[n]["hit_rate"] * 100 for n in keys], "s--", color="#7f8c8d")
        hits.set_ylabel("lookup-cache hits (%)")
        hits.set_ylim(0, 105)
        left.set_ylim(bottom=0)
        left.set_title("Keys")
    if rules:
        counts = [int(n) for n in rules]
        middle.plot(counts, [rules[n]["median"] * 1e6 for n in rules], "o-")
        middle.set_xscale("log")
        middle.set_ylim(bottom=0)
        middle.set_xlabel("rules (each on a resource of its own)")
        middle.set_ylabel("µs per check of GET /v1/events")
        middle.set_title("Rules: warm check")
    if compiled:
        counts = [int(n) for n in compiled]
        right.plot(counts, [compiled[n]["median"] for n in compiled], "o-")
        right.set_xscale("log")
        right.set_yscale("log")
        right.set_xlabel("rules")
        right.set_ylabel("seconds")
        right.set_title("Engine.from_directory")
    from matplotlib.ticker import FuncFormatter

    for axes in (left, middle, right):
        axes.grid(alpha=0.3, which="both")
        axes.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:,.0f}"))
    figure.tight_layout()
    return figure


def _http(plt: Any, data: dict[str, Any]) -> Any:
    http = data.get("http")
    if not http:
        return None
    names = list(http)
    figure, axes = plt.subplots(figsize=(7, 3))
    axes.bar(names, [http[n]["median"] for n in names], color="#2e86c1")
    axes.set_ylabel("requests per second (median)")
    axes.set_title("FastAPI under wrk on loopback")
    axes.grid(axis="y", alpha=0.3)
    return figure
