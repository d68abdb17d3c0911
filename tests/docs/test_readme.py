"""The README, followed on a fresh clone as written: its first key works with ``check``,
and its FastAPI application runs and answers as it says."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")
COMMAND = ".venv/bin/policyengine"


def block(name: str) -> str:
    """The fenced block after ``<!-- readme: NAME -->``."""
    match = re.search(rf"<!-- readme: {name} -->\n```\w*\n(.*?)^```", README, re.S | re.M)
    assert match, f"the README has no {name} block"
    return match.group(1)


def matches(expected: list[str], actual: list[str]) -> bool:
    """Line by line; ``…`` in an expected line stands for any text."""
    if len(expected) != len(actual):
        return False
    for want, got in zip(expected, actual, strict=True):
        pattern = ".*".join(re.escape(part) for part in want.split("…"))
        if not re.fullmatch(pattern, got):
            return False
    return True


def test_the_first_key_made_as_the_readme_says_is_allowed_by_check(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "policies", tmp_path / "policies")
    env = {k: v for k, v in os.environ.items() if not k.startswith("POLICYENGINE_")}
    lines = block("first-key").splitlines()
    steps: list[tuple[str, list[str]]] = []
    for line in lines:
        if line.startswith("$ "):
            steps.append((line[2:], []))
        else:
            steps[-1][1].append(line)
    secret = ""
    for command, expected in steps:
        if command.startswith("export "):
            name = command.split()[1].split("=")[0]
            env[name] = secret
            continue
        assert command.startswith(COMMAND), command
        argv = [sys.executable, "-m", "policyengine", *_split(command[len(COMMAND) :])]
        result = subprocess.run(
            argv, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60, check=False
        )
        assert result.returncode == 0, result.stdout + result.stderr
        output = result.stdout.splitlines()
        assert matches(expected, output), "\n".join(output)
        found = re.search(r"tdoc_test_\w+", result.stdout)
        secret = found.group() if found else secret


def _split(text: str) -> list[str]:
    import shlex

    return shlex.split(text)


def test_the_readmes_fastapi_application_answers_as_it_says(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fastapi.testclient import TestClient

    from policyengine import Engine

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("POLICYENGINE_SECRET", raising=False)
    (tmp_path / "policies").symlink_to(ROOT / "policies")
    namespace: dict[str, object] = {"__name__": "readme_app"}
    exec(compile(block("fastapi"), "README.md", "exec"), namespace)
    engine = namespace["engine"]
    assert isinstance(engine, Engine)
    issued = engine.keys.create(type="read-only", label="readme", environment="test")
    with TestClient(namespace["app"], client=("203.0.113.9", 50000)) as client:  # type: ignore[arg-type]
        allowed = client.get("/v1/events", headers={"Authorization": f"Bearer {issued.secret}"})
        assert (allowed.status_code, allowed.json()) == (200, {"key": issued.key.id})
        denied = client.get("/v1/events", headers={"X-Request-ID": "readme-1"})
        assert denied.status_code == 401
        assert denied.json() == {
            "error": {
                "code": "MISSING_CREDENTIAL",
                "message": "no API key was presented",
                "request_id": "readme-1",
            }
        }
    # The shutdown closed the engine, which wrote the key's last use.
    with Engine.from_directory("policies") as reader:
        assert reader.keys.get(issued.key.id).last_used_at is not None
