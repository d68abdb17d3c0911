"""The mutation runner starts a group afresh when the source its mutants came from changed,
and reuses its verdicts otherwise."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.mutation import __main__ as runner


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "project"
    (root / "policyengine" / "limits").mkdir(parents=True)
    (root / "policyengine" / "net.py").write_text("A = 1\n")
    (root / "policyengine" / "limits" / "gcra.py").write_text("B = 2\n")
    (root / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    monkeypatch.setattr(runner, "ROOT", root)
    monkeypatch.setattr(runner, "WORK", root / ".mutation")
    monkeypatch.setattr(runner, "SHARED", ("policyengine",))
    monkeypatch.setattr(
        runner, "GROUPS", {"g": (["policyengine/net.py", "policyengine/limits/*"], ["tests"])}
    )
    return root


def test_the_digest_follows_every_mutated_file_and_nothing_else(project: Path) -> None:
    before = runner.source_digest("g")
    (project / "policyengine" / "other.py").write_text("C = 3\n")
    assert runner.source_digest("g") == before
    (project / "policyengine" / "limits" / "gcra.py").write_text("B = 3\n")
    assert runner.source_digest("g") != before


def test_a_group_starts_afresh_only_when_its_source_changed(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[list[str]] = []

    def mutmut(args: list[str], **_: Any) -> subprocess.CompletedProcess[str]:
        calls.append(args[1:])
        folder = runner.WORK / "g"
        if args[1] == "run":
            (folder / "mutants").mkdir(exist_ok=True)
            (folder / "mutants" / "verdicts").touch()
        listing = "    policyengine.net.x_a__mutmut_1: survived\n" if args[1] == "results" else ""
        return subprocess.CompletedProcess(args, 0, listing, "")

    monkeypatch.setattr(runner.subprocess, "run", mutmut)
    mutants = runner.WORK / "g" / "mutants"

    assert runner.run("g", "mutmut") == {"policyengine.net.x_a__mutmut_1": "survived"}
    assert calls == [["run"], ["results", "--all", "true"]]  # a first run: no survivor re-run

    calls.clear()
    runner.run("g", "mutmut")  # same source: the survivor is tried again on the verdicts kept
    assert calls[-2] == ["run", "policyengine.net.x_a__mutmut_1"]

    (mutants / "kept").touch()
    (project / "policyengine" / "net.py").write_text("A = 2\n")
    calls.clear()
    runner.run("g", "mutmut")
    assert not (mutants / "kept").exists()  # the old mutants were cleared away
    assert calls == [["run"], ["results", "--all", "true"]]
