"""``policyengine check``: one decision, explained, from the command line."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def run(cwd: Path, *args: str, key: str | None = None, stdin: str | None = None):
    env = {**os.environ, "POLICYENGINE_SECRET": "cli-check-tests-secret-0123456789abcdef"}
    env.pop("POLICYENGINE_KEY", None)
    if key is not None:
        env["POLICYENGINE_KEY"] = key
    return subprocess.run(
        [sys.executable, "-m", "policyengine", *args],
        cwd=cwd,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "policies", tmp_path / "policies")
    return tmp_path


def create(workdir: Path, *args: str) -> str:
    result = run(workdir, "keys", "create", "--json", *args)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)["secret"]


def test_check_explains_a_denial_and_exits_1(workdir: Path) -> None:
    key = create(workdir, "--type", "write", "--label", "ci", "--env", "live")
    result = run(
        workdir, "check", "POST", "/v1/events", "--ip", "203.0.113.9", "--env", "live", key=key
    )
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert lines[0] == (
        "denied: DENIED_BY_POLICY (403) — Keys that write to production must be restricted "
        "to known networks"
    )
    assert lines[1] == "decided by: live-writes-need-an-allow-list (policies/rules.yaml:5)"
    assert "  ✗ rules        deny rule live-writes-need-an-allow-list" in result.stdout
    assert key not in result.stdout + result.stderr


def test_check_reads_the_key_from_stdin_and_prints_json(workdir: Path) -> None:
    key = create(workdir, "--type", "read-only", "--label", "r", "--env", "live")
    result = run(
        workdir,
        "check",
        "GET",
        "/v1/events",
        "--ip",
        "203.0.113.9",
        "--env",
        "live",
        "--key-stdin",
        "--json",
        stdin=key + "\n",
    )
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert (answer["code"], answer["status"], answer["allowed"]) == ("OK", 200, True)
    assert [s["step"] for s in answer["trace"]] == ["state", "environment", "ip", "scope", "rate"]
    assert answer["headers"]["RateLimit-Policy"] == '"default";q=600;w=60'


def test_check_without_a_key_is_missing_credential(workdir: Path) -> None:
    create(workdir, "--type", "read-only", "--label", "r", "--env", "live")
    result = run(workdir, "check", "GET", "/v1/events")
    assert result.returncode == 1
    assert result.stdout.startswith("denied: MISSING_CREDENTIAL (401)")


def test_check_misuse_exits_2(workdir: Path) -> None:
    assert run(workdir, "check").returncode == 2
    assert run(workdir, "check", "GET").returncode == 2
    assert run(workdir, "check", "GET", "/v1/events", "--header", "nocolon").returncode == 2


def test_check_believes_the_named_forwarding_header_of_trusted_proxies(workdir: Path) -> None:
    key = create(
        workdir, "--type", "read-only", "--label", "office", "--env", "live",
        "--allowed-ip", "203.0.113.0/24",
    )  # fmt: skip
    behind_proxy = (
        "GET", "/v1/events", "--env", "live", "--ip", "10.0.0.5", "--trusted-proxy", "10.0.0.0/8"
    )  # fmt: skip
    forwarded = ("--header", "Forwarded: for=203.0.113.9")
    xff = ("--header", "X-Forwarded-For: 203.0.113.9")
    assert run(workdir, "check", *behind_proxy, *xff, key=key).returncode == 0
    # The default header is X-Forwarded-For: a Forwarded header is not read.
    assert run(workdir, "check", *behind_proxy, *forwarded, key=key).returncode == 1
    told = ("--forwarded-header", "forwarded")
    assert run(workdir, "check", *behind_proxy, *told, *forwarded, key=key).returncode == 0
    assert run(workdir, "check", *behind_proxy, *told, *xff, key=key).returncode == 1
    assert run(workdir, "check", *behind_proxy, "--forwarded-header", "x-real-ip").returncode == 2


def test_a_key_made_with_the_defaults_is_accepted_by_check_with_the_defaults(
    workdir: Path,
) -> None:
    """The README's two commands, as written: one default environment everywhere."""
    key = create(workdir, "--type", "read-only", "--label", "first try")
    result = run(workdir, "check", "GET", "/v1/events", key=key)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("allowed: OK (200)")
    assert "test key in the test environment" in result.stdout


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (("--at", "yesterday"), "--at takes an ISO 8601 instant"),
        (("--ip", "notanip"), "--ip takes an IP address"),
        (("--ip", "203.0.113.0/24"), "--ip takes an IP address"),
    ],
)
def test_a_bad_option_value_is_misuse_exit_2(
    workdir: Path, options: tuple[str, ...], message: str
) -> None:
    key = create(workdir, "--type", "read-only", "--label", "r")
    result = run(workdir, "check", "GET", "/v1/events", *options, key=key)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.startswith(f"error: {message}")


def test_keys_show_given_a_secret_is_misuse_exit_2_and_keeps_it_secret(workdir: Path) -> None:
    key = create(workdir, "--type", "read-only", "--label", "r")
    result = run(workdir, "keys", "show", key)
    assert result.returncode == 2
    assert result.stderr == "error: that is a key's secret, not its id (key_…); keep it secret\n"
    assert key not in result.stdout + result.stderr


def test_version_prints_the_installed_version() -> None:
    from importlib.metadata import version

    result = run(ROOT, "--version")
    assert (result.returncode, result.stdout) == (0, f"policyengine {version('policyengine')}\n")


def test_the_keys_commands_take_the_prefix_from_the_policies(tmp_path: Path) -> None:
    (tmp_path / "policies").mkdir()
    (tmp_path / "policies" / "a.yaml").write_text(
        "version: 1\nkey_prefix: acme\nroutes:\n  GET /v1/things: things:read\n"
        "key_types:\n  reader: {description: Reads things, scopes: ['things:read']}\n"
    )
    secret = create(tmp_path, "--type", "reader", "--label", "x")
    assert secret.startswith("acme_test_")
    (tmp_path / "leak.txt").write_text(f"token = {secret}\n")
    scanned = run(tmp_path, "keys", "scan", "leak.txt", "--json")
    assert scanned.returncode == 1, scanned.stderr
    (finding,) = json.loads(scanned.stdout)["findings"]
    assert (finding["where"], finding["status"]) == ("leak.txt:1:9", "active")
