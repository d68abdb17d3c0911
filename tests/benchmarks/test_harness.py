"""``python -m benchmarks --quick`` runs end to end and writes a well-formed report.

Nothing here asserts on a time: only on what the run wrote and said.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.report import GOALS
from policyengine import Code

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("bench")
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return out, done.stdout


def markdown_tables(text: str) -> dict[str, list[list[str]]]:
    """Each table of a Markdown document, under the heading it follows, as rows of cells."""
    tables: dict[str, list[list[str]]] = {}
    heading = ""
    for line in text.splitlines():
        if line.startswith("## "):
            heading = line[3:]
        elif line.startswith("|"):
            assert line.endswith("|"), line
            cells = [cell.strip() for cell in line[1:-1].split(" | ")]
            tables.setdefault(heading, []).append(cells)
    return tables


def test_every_table_has_a_header_a_rule_and_rows_of_its_width(quick_run: tuple[Path, str]) -> None:
    tables = markdown_tables((quick_run[0] / "results.md").read_text())
    assert len(tables) >= 7
    for heading, rows in tables.items():
        assert len(rows) >= 3, heading
        width = len(rows[0])
        assert rows[1] == ["---"] * width, heading
        for row in rows[2:]:
            assert len(row) == width, (heading, row)
            assert all(cell for cell in row[1:]), (heading, row)


def test_the_goals_table_lists_each_goal_of_issue_8_in_order(quick_run: tuple[Path, str]) -> None:
    tables = markdown_tables((quick_run[0] / "results.md").read_text())
    goals = tables["Goals (issue 8)"]
    assert goals[0] == ["what", "measured", "goal", "met"]
    assert [row[0] for row in goals[2:]] == [what.replace("|", "\\|") for _, what, _ in GOALS]
    assert [row[2] for row in goals[2:]] == [goal for _, _, goal in GOALS]
    # A quick run measures on tiny workloads and judges no goal.
    assert {row[3] for row in goals[2:]} == {"—"}
    measured = {row[0]: row[1] for row in goals[2:]}
    assert measured[GOALS[0][1]] != "not measured in this run"


def test_every_decision_code_but_unavailable_has_a_timed_path(quick_run: tuple[Path, str]) -> None:
    results = json.loads((quick_run[0] / "results.json").read_text())
    assert results["quick"] is True
    codes = {entry["code"] for entry in results["data"]["checks"].values() if entry["code"]}
    assert codes == {code.value for code in Code} - {Code.UNAVAILABLE.value}
    for entry in results["data"]["checks"].values():
        low, high = entry["quartiles"]
        assert 0 < low <= entry["median"] <= high


def test_a_quick_run_says_what_it_skipped(quick_run: tuple[Path, str]) -> None:
    out, printed = quick_run
    text = (out / "results.md").read_text()
    skipped = text.split("## Not measured in this run", 1)[1]
    assert "Cerbos: skipped in quick mode" in skipped
    assert "FastAPI req/s: skipped in quick mode" in skipped
    assert "quick smoke run" in text
    assert "## Goals (issue 8)" in printed
    assert f"written: {out / 'results.md'}" in printed


def test_the_plots_it_links_are_png_files(quick_run: tuple[Path, str]) -> None:
    out = quick_run[0]
    text = (out / "results.md").read_text()
    linked = [
        line.split("](", 1)[1].rstrip(")") for line in text.splitlines() if line.startswith("![")
    ]
    assert {"checks.png", "limiters.png", "scaling.png"} <= set(linked)
    for name in linked:
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_an_unknown_section_is_refused_before_anything_runs(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks",
            "--quick",
            "--only",
            "nothing",
            "--out",
            str(tmp_path),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "invalid choice: 'nothing'" in done.stderr
    assert not list(tmp_path.iterdir())
