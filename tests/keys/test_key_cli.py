"""``policyengine keys …`` as a person at a terminal uses it, on the SQLite and PostgreSQL
stores (a ``memory://`` store does not outlive one command)."""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from policyengine.cli import keys as cli
from policyengine.errors import Diagnostic, Location, PolicyError
from policyengine.keys.events import KeyEvent
from policyengine.keys.format import KeyFormat
from policyengine.keys.hashing import SECRET_ENV

from .support import SECRET, policy_set

Run = Callable[..., tuple[int, str, str]]
CREATE = ("create", "--type", "read-only", "--label", "x")


@pytest.fixture
def run(
    sql_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> Run:
    """``run("list", "--json")`` → (exit code, stdout, stderr), against the test's store."""
    monkeypatch.setattr("policyengine.policy.loader.load_directory", lambda path: policy_set())
    monkeypatch.setenv(SECRET_ENV, SECRET)
    monkeypatch.delenv(cli.STORE_ENV, raising=False)
    monkeypatch.delenv(cli.REDIS_ENV, raising=False)
    monkeypatch.chdir(tmp_path)

    def invoke(*argv: str, store: str | None = sql_url) -> tuple[int, str, str]:
        parser = argparse.ArgumentParser(prog="policyengine")
        cli.register(parser.add_subparsers(dest="command"))
        arguments = [*argv] if store is None else [*argv, "--store", store]
        args = parser.parse_args(["keys", *arguments])
        code = args.handler(args)
        out, err = capsys.readouterr()
        return code, out, err

    return invoke


def create(run: Run, *options: str) -> dict[str, object]:
    code, out, err = run("create", "--type", "read-only", "--label", "export", "--json", *options)
    assert (code, err) == (0, "")
    return json.loads(out)  # type: ignore[no-any-return]


def test_create_prints_the_secret_once_and_nothing_else_ever_shows_it(run: Run) -> None:
    code, out, err = run(
        "create", "--type", "scoped", "--label", "CI trigger", "--env", "live",
        "--scope", "tasks:trigger", "--allowed-ip", "198.51.100.7", "--expires-in", "30d",
        "--metadata", "team=ci", "--limit", "burst=5/second", "--usage", "500/daily",
    )  # fmt: skip
    assert (code, err) == (0, "")
    secrets = KeyFormat("tdoc").find_keys(out)
    assert len(secrets) == 1
    secret = secrets[0].text
    assert "only time the secret is shown" in out
    key_id = next(word for word in out.split() if word.startswith("key_"))
    for argv in (("list",), ("list", "--json"), ("show", key_id), ("show", key_id, "--json")):
        code, out, err = run(*argv)
        assert code == 0
        assert secret not in out + err
        assert f"tdoc_live_…{secret[-4:]}" in out
    code, out, _ = run("show", key_id)
    assert "scopes:" in out
    assert "tasks:trigger" in out
    assert "rate limit burst: 5/second" in out


def test_json_output_describes_the_key(run: Run) -> None:
    created = create(run, "--env", "live", "--allowed-ip", "203.0.113.0/24")
    key = created["key"]
    assert isinstance(key, dict)
    assert str(created["secret"]).startswith("tdoc_live_")
    assert (key["type"], key["environment"], key["state"]) == ("read-only", "live", "active")
    assert key["allowed_ips"] == ["203.0.113.0/24"]
    _code, out, _ = run("list", "--json")
    listed = json.loads(out)
    assert [k["id"] for k in listed["keys"]] == [key["id"]]
    assert listed["next_cursor"] is None


def test_every_lifecycle_command_works_and_shows_the_new_state(run: Run) -> None:
    key_id = str(create(run)["key"]["id"])  # type: ignore[index]
    for command, state in (("disable", "disabled"), ("enable", "active"), ("revoke", "revoked")):
        code, out, err = run(command, key_id, "--json")
        assert (code, err) == (0, "")
        assert json.loads(out)["state"] == state
    code, out, err = run("list", "--state", "revoked")
    assert code == 0
    assert key_id in out
    assert "revoked" in out


def test_rotate_prints_the_new_secret_and_keeps_the_old_key_for_the_grace(run: Run) -> None:
    old = create(run)
    old_id = str(old["key"]["id"])  # type: ignore[index]
    code, out, err = run("rotate", old_id, "--grace", "2h")
    assert (code, err) == (0, "")
    [new_secret] = [found.text for found in KeyFormat("tdoc").find_keys(out)]
    assert new_secret != old["secret"]
    code, out, _ = run("show", old_id, "--json")
    shown = json.loads(out)
    assert shown["state"] == "rotated"
    assert shown["rotated_to"] in out


def test_lists_page_with_a_cursor(run: Run) -> None:
    made = [str(create(run, "--label", f"key {n}")["key"]["id"]) for n in range(5)]  # type: ignore[index]
    code, out, _ = run("list", "--limit", "2", "--json")
    page = json.loads(out)
    seen = [k["id"] for k in page["keys"]]
    while page["next_cursor"]:
        code, out, _ = run("list", "--limit", "2", "--json", "--cursor", page["next_cursor"])
        assert code == 0
        page = json.loads(out)
        seen += [k["id"] for k in page["keys"]]
    assert sorted(seen) == sorted(made)
    assert len(seen) == 5
    _code, out, _ = run("list", "--limit", "2")
    assert "more keys: add --cursor" in out


@pytest.mark.parametrize(
    ("argv", "code", "message"),
    [
        (("create", "--type", "nope", "--label", "x"), 2, "error: unknown key type 'nope'"),
        (
            ("create", "--type", "read-only", "--label", "x", "--allowed-ip", "1.2.3.4/33"),
            2,
            "invalid CIDR",
        ),
        (
            ("create", "--type", "read-only", "--label", "x", "--metadata", "novalue"),
            2,
            "--metadata takes NAME=VALUE",
        ),
        (("create", "--type", "read-only", "--label", "x", "--usage", "lots"), 2, "--usage takes"),
        (("show", "key_" + "A" * 20), 1, "error: no key with id key_AAAAAAAAAAAAAAAAAAAA"),
        (("revoke", "nonsense"), 1, "error: not a key id"),
        (("list", "--limit", "0"), 2, "error: limit must be"),
        (("list", "--cursor", "garbage"), 2, "error: invalid cursor"),
    ],
)
def test_errors_are_one_clear_line_with_a_meaningful_exit_code(
    run: Run, argv: tuple[str, ...], code: int, message: str
) -> None:
    create(run)  # the store exists, so that only the command itself can be wrong
    result, _out, err = run(*argv)
    assert result == code
    assert message in err
    assert len(err.strip().splitlines()) == 1
    assert "Traceback" not in err


def test_reading_commands_do_not_create_a_store(run: Run, tmp_path: Path) -> None:
    code, _, err = run("list", store=None)
    assert code == 1
    assert "error: there is no key store at policyengine.db" in err
    assert not (tmp_path / "policyengine.db").exists()
    code, _out, err = run("create", "--type", "read-only", "--label", "first", store=None)
    assert code == 0
    assert (tmp_path / "policyengine.db").exists()
    assert (tmp_path / "policyengine.db.secret").exists() is False  # the env secret is used


def test_policy_errors_are_reported_as_diagnostics(
    run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(path: str) -> object:
        location = Location("policies/keys.yaml", 3, 5)
        raise PolicyError([Diagnostic(location, "unknown scope 'evnts:read'")])

    monkeypatch.setattr("policyengine.policy.loader.load_directory", broken)
    code, _, err = run("create", "--type", "read-only", "--label", "x")
    assert code == 1
    assert "do not load" in err
    assert "policies/keys.yaml:3:5: unknown scope 'evnts:read'" in err


def test_keys_without_a_subcommand_is_misuse(run: Run) -> None:
    parser = argparse.ArgumentParser(prog="policyengine")
    cli.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["keys"])
    assert args.handler(args) == 2


# -- scan ---------------------------------------------------------------------------------


def plant(root: Path, secrets: dict[str, str]) -> None:
    (root / "src" / "deep").mkdir(parents=True)
    (root / ".git").mkdir()
    (root / "src" / "settings.py").write_text(f'DEBUG = True\nAPI_KEY = "{secrets["active"]}"\n')
    (root / "src" / "deep" / "notes.md").write_text(
        f"old key {secrets['revoked']} and a look-alike {secrets['fake']}\n"
        f"someone else's: {secrets['unknown']}\n"
    )
    (root / ".git" / "config").write_text(secrets["active"])  # version control: not scanned
    (root / "image.png").write_bytes(b"\x89PNG\0\0" + secrets["active"].encode())


def test_scan_finds_planted_keys_and_tells_active_from_revoked(run: Run, tmp_path: Path) -> None:
    active, revoked = create(run), create(run)
    run("revoke", str(revoked["key"]["id"]))  # type: ignore[index]
    unknown = KeyFormat("tdoc").generate("test")
    secrets = {
        "active": str(active["secret"]),
        "revoked": str(revoked["secret"]),
        "unknown": unknown,
        "fake": unknown[:-1] + ("A" if unknown[-1] != "A" else "B"),
    }
    tree = tmp_path / "repo"
    tree.mkdir()
    plant(tree, secrets)
    code, out, err = run("scan", str(tree), "--json")
    assert code == 1  # a live key was found
    report = json.loads(out)
    found = {(f["where"], f["status"]) for f in report["findings"]}
    assert found == {
        (f"{tree}/src/deep/notes.md:1:9", "revoked"),
        (f"{tree}/src/deep/notes.md:2:17", "unknown"),
        (f"{tree}/src/settings.py:2:12", "active"),
    }
    assert {s["reason"] for s in report["skipped"]} == {"binary"}
    for secret in secrets.values():
        assert secret not in out + err
    code, out, _ = run("scan", str(tree))
    assert "settings.py:2:12" in out
    assert "active" in out
    assert "3 key(s) found in 3 file(s) scanned, 1 still live; 1 skipped" in out


def test_scan_revoke_revokes_live_keys_and_a_second_scan_is_clean(run: Run, tmp_path: Path) -> None:
    active = create(run)
    leaked = tmp_path / "leak.env"
    leaked.write_text(f"KEY={active['secret']}\nAGAIN={active['secret']}\n")
    code, out, _ = run("scan", str(leaked), "--revoke")
    assert code == 0
    assert out.count(f"revoked {active['key']['id']}") == 1  # type: ignore[index]
    code, out, _ = run("show", str(active["key"]["id"]), "--json")  # type: ignore[index]
    assert json.loads(out)["state"] == "revoked"
    code, out, _ = run("scan", str(leaked))
    assert code == 0
    assert "0 still live" in out


def test_scan_without_a_store_reports_keys_as_unchecked(run: Run, tmp_path: Path) -> None:
    leaked = tmp_path / "leak.txt"
    leaked.write_text(KeyFormat("tdoc").generate("live"))
    code, out, err = run("scan", str(leaked), store=f"sqlite:///{tmp_path / 'absent.db'}")
    assert code == 1
    assert "unchecked" in out
    assert "cannot be checked" in err
    code, out, err = run("scan", str(leaked), "--offline", store=None)
    assert code == 1
    assert "unchecked" in out
    clean = tmp_path / "clean"
    clean.mkdir()
    (clean / "README").write_text("nothing to see")
    assert run("scan", str(clean), "--offline", store=None)[0] == 0
    assert not (tmp_path / "absent.db").exists()
    assert os.path.exists(leaked)


def test_create_works_on_a_memory_store_too(run: Run) -> None:
    code, out, err = run("create", "--type", "read-only", "--label", "demo", store="memory://")
    assert (code, err) == (0, "")
    assert len(KeyFormat("tdoc").find_keys(out)) == 1


def test_scan_revoke_revokes_a_key_found_however_long_its_path(run: Run, tmp_path: Path) -> None:
    active = create(run)
    deep = tmp_path / ("d" * 100) / ("e" * 100) / ("f" * 100)
    deep.mkdir(parents=True)
    leaked = deep / "leak.env"
    leaked.write_text(f"\n\nKEY={active['secret']}\n")
    code, out, err = run("scan", str(tmp_path), "--revoke")
    assert (code, err) == (0, "")
    code, out, _ = run("show", str(active["key"]["id"]), "--json")  # type: ignore[index]
    assert json.loads(out)["state"] == "revoked"


def test_scan_revoke_records_where_the_key_was_found(run: Run, tmp_path: Path) -> None:
    from policyengine.keys.manager import KeyManager

    active = create(run)
    leaked = tmp_path / ("x" * 200) / "leak.env"
    leaked.parent.mkdir()
    leaked.write_text(f"KEY={active['secret']}\n")
    seen: list[KeyEvent] = []
    original = KeyManager.open

    def recording(*args: object, **kwargs: object) -> KeyManager:
        return original(*args, events=seen.append, **kwargs)  # type: ignore[arg-type]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(KeyManager, "open", recording)
        code, _, _ = run("scan", str(leaked), "--revoke")
    assert code == 0
    revoked = [event for event in seen if event.kind == "revoked"]
    assert len(revoked) == 1
    assert revoked[0].details["reason"] == "leaked"
    assert revoked[0].details["found_in"] == f"{leaked}:1:5"


@pytest.mark.parametrize("json_output", [False, True])
def test_scanning_a_path_that_does_not_exist_is_an_error(
    run: Run, tmp_path: Path, json_output: bool
) -> None:
    active = create(run)
    leaked = tmp_path / "leak.env"
    leaked.write_text(f"KEY={active['secret']}\n")
    missing = tmp_path / "DOES-NOT-EXIST"
    options = ["--json"] if json_output else []
    code, out, err = run("scan", str(missing), str(leaked), "--revoke", *options)
    assert code == 2
    assert f"error: cannot scan {missing}: no such file or directory" in err
    # What could be scanned was, and the leak found there is revoked all the same.
    code, out, _ = run("show", str(active["key"]["id"]), "--json")  # type: ignore[index]
    assert json.loads(out)["state"] == "revoked"
