"""``policyengine keys activity|usage``, ``policyengine alerts`` and ``policyengine audit
verify|export|head`` as a person at a terminal uses them, over the SQLite files an engine
keeps beside each other."""

from __future__ import annotations

import getpass
import json
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from policyengine import cli
from policyengine.engine import Engine
from policyengine.keys.hashing import SECRET_ENV

from .support import POLICIES, SECRET, get

Run = Callable[..., tuple[int, str, str]]
STORE = "sqlite:///policyengine.db"


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Run:
    """``run("alerts", "--json")`` → (exit code, stdout, stderr), in a directory of its own
    with tDoc's policies, the key store and its monitor."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(SECRET_ENV, SECRET)
    for name in ("POLICYENGINE_STORE", "POLICYENGINE_MONITOR", "POLICYENGINE_REDIS"):
        monkeypatch.delenv(name, raising=False)
    (tmp_path / "policies").symlink_to(POLICIES)

    def invoke(*argv: str) -> tuple[int, str, str]:
        capsys.readouterr()
        try:
            code = cli.main(list(argv))
        except SystemExit as exit_:  # argparse, on misuse
            code = int(exit_.code or 0)
        out, err = capsys.readouterr()
        return code, out, err

    return invoke


def traffic(run: Run) -> str:
    """A key made from the command line, used by a service, and revoked again."""
    code, out, _ = run(
        "keys", "create", "--type", "read-only", "--label", "cli", "--env", "live", "--json"
    )
    assert code == 0
    made = json.loads(out)
    with Engine.from_directory(
        "policies", environment="live", store=STORE, maintenance_interval=None, handle_signals=False
    ) as engine:
        for _ in range(3):
            engine.check(get(made["secret"]))
        engine.check(get(made["secret"], "/v1/keys"))
        for _ in range(20):
            engine.check(get(None, ip="192.0.2.66"))
    assert run("keys", "revoke", made["key"]["id"])[0] == 0
    return str(made["key"]["id"])


def test_keys_activity_lists_decisions_and_lifecycle_with_the_cli_as_actor(run: Run) -> None:
    key_id = traffic(run)
    code, out, err = run("keys", "activity", key_id)
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0].split() == ["AT", "WHAT", "REQUEST", "FROM", "WHY"]
    assert f"by cli:{getpass.getuser()}" in lines[1]
    assert "key.revoked" in lines[1]
    assert "INSUFFICIENT_SCOPE" in lines[2]
    assert "key.created" in lines[-1]
    code, out, _ = run("keys", "activity", key_id, "--json", "--code", "OK", "--limit", "2")
    page = json.loads(out)
    assert [item["code"] for item in page["data"]] == ["OK", "OK"]
    code, out, _ = run(
        "keys", "activity", key_id, "--json", "--cursor", page["next_cursor"], "--code", "OK"
    )
    assert [item["code"] for item in json.loads(out)["data"]] == ["OK"]
    code, out, _ = run("keys", "activity", key_id, "--explain", "--action", "read", "--limit", "1")
    assert "failed scope: no scope of this read-only key grants keys:read" in out


def test_keys_usage_shows_each_bucket(run: Run) -> None:
    key_id = traffic(run)
    code, out, _ = run("keys", "usage", key_id, "--step", "day")
    assert code == 0
    header, row = out.splitlines()
    assert header.split() == ["START", "REQUESTS", "ALLOWED", "DENIED", "HEADROOM", "CREDITS"]
    assert row.split()[2:6] == ["4", "3", "INSUFFICIENT_SCOPE=1", "99.5%"]
    code, out, _ = run("keys", "usage", key_id, "--json", "--since", "1h")
    (point,) = json.loads(out)["data"]
    assert (point["step"], point["requests"], point["denied"]) == (
        "minute",
        4,
        {"INSUFFICIENT_SCOPE": 1},
    )


def test_alerts_lists_what_was_raised(run: Run) -> None:
    traffic(run)
    code, out, _ = run("alerts")
    assert code == 0
    assert "denial_burst" in out
    assert "192.0.2.66" in out
    code, out, _ = run("alerts", "--json", "--state", "open", "--kind", "denial_burst")
    (alert,) = json.loads(out)["data"]
    assert (alert["subject"], alert["severity"]) == ("192.0.2.66", "warning")
    code, out, _ = run("alerts", "--json", "--severity", "critical")
    assert json.loads(out)["data"] == []


def test_audit_head_verify_and_export(run: Run, tmp_path: Path) -> None:
    key_id = traffic(run)
    code, head, _ = run("audit", "head")
    assert code == 0
    assert head.strip().startswith("4:")  # created, the service's policy load, alert, revoked
    code, out, _ = run("audit", "verify")
    assert (code, out.splitlines()[0]) == (
        0,
        f"audit log verified: 4 entries, unbroken; head {head.strip()}",
    )
    code, out, _ = run("audit", "export", "--event", "key.*")
    entries = [json.loads(line) for line in out.splitlines()]
    assert [(e["event"], e["subject"]) for e in entries] == [
        ("key.created", key_id),
        ("key.revoked", key_id),
    ]
    code, out, err = run("audit", "export", "--actor", "system", "--output", "alerts.jsonl")
    assert code == 0
    assert err == "wrote 1 entries to alerts.jsonl\n"
    assert json.loads((tmp_path / "alerts.jsonl").read_text())["event"] == "alert.raised"
    code, out, _ = run("audit", "head", "--json")
    assert json.loads(out)["seq"] == 4


def test_audit_verify_names_a_changed_entry_and_a_cut_tail_and_exits_1(
    run: Run, tmp_path: Path
) -> None:
    traffic(run)
    head = run("audit", "head")[1].strip()
    with sqlite3.connect(tmp_path / "policyengine.monitor.db") as connection:
        connection.execute("UPDATE policyengine_audit SET actor = 'cli:mallory' WHERE seq = 2")
    code, out, _ = run("audit", "verify")
    assert code == 1
    assert out.startswith("audit log broken: entry 2 was changed")
    code, out, _ = run("audit", "verify", "--json")
    verdict = json.loads(out)
    assert (verdict["ok"], verdict["problem"]["kind"], verdict["problem"]["seq"]) == (
        False,
        "changed",
        2,
    )
    with sqlite3.connect(tmp_path / "policyengine.monitor.db") as connection:
        connection.execute("DELETE FROM policyengine_audit WHERE seq >= 2")
    assert run("audit", "verify")[0] == 0
    code, out, _ = run("audit", "verify", "--head", head)
    assert code == 1
    assert "before the head 4 given" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("alerts", "--since", "yesterday"), "--since takes an ISO 8601 instant"),
        (("alerts", "--since", "2026-11-27T12:00:00"), "--since takes an ISO 8601 instant"),
        (("audit", "verify", "--head", "5"), "a head is the seq and HMAC"),
        (("keys", "activity", "nope"), "not a key id"),
    ],
)
def test_bad_arguments_are_one_line_errors(run: Run, argv: tuple[str, ...], message: str) -> None:
    traffic(run)
    code, out, err = run(*argv)
    assert (code, out) == (2, "")
    assert err.startswith("error: ")
    assert message in err
    assert len(err.splitlines()) == 1


def test_a_question_from_check_is_not_recorded(run: Run) -> None:
    key_id = traffic(run)
    before = run("keys", "activity", key_id, "--json")[1]
    code, _, _ = run("check", "GET", "/v1/events", "--ip", "203.0.113.9")
    assert code == 1
    assert run("keys", "activity", key_id, "--json")[1] == before
    _, out, _ = run("audit", "export", "--event", "policy.*")
    assert len(out.splitlines()) == 1  # the service's load, not the check's


def test_the_monitor_can_be_named(run: Run, tmp_path: Path) -> None:
    code, out, _ = run(
        "keys",
        "create",
        "--type",
        "read-only",
        "--label",
        "x",
        "--monitor",
        "sqlite:///elsewhere.db",
    )
    assert code == 0
    assert (tmp_path / "elsewhere.db").exists()
    code, out, _ = run("audit", "export", "--monitor", "sqlite:///elsewhere.db")
    assert [json.loads(line)["event"] for line in out.splitlines()] == ["key.created"]
