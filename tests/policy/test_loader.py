"""Loading policy directories: what a valid set means, and how every mistake is reported."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from policyengine.errors import PolicyError
from policyengine.policy.loader import load_directory, load_texts
from policyengine.policy.scopes import parse_scope
from policyengine.units import Rate

ROOT = Path(__file__).resolve().parents[2]
POLICIES = ROOT / "policies"

KEY_TYPES = """\
version: 1
resources:
  events: [read, write]
key_types:
  reader:
    description: Reads events
    scopes: ["events:read"]
    rate_limit: 600/minute
"""


def errors(files: dict[str, str]) -> list[str]:
    with pytest.raises(PolicyError) as caught:
        load_texts(files)
    return [str(d) for d in caught.value.diagnostics]


def test_tdocs_policies_load_with_their_key_types_routes_and_rules() -> None:
    policy = load_directory(POLICIES)
    assert set(policy.key_types) == {"read-only", "write", "full-access", "scoped"}
    assert policy.key_types["full-access"].max_lifetime == 90 * 86400
    assert policy.key_types["scoped"].scopes is None
    assert parse_scope("events:*") in policy.key_types["scoped"].allowed_scopes
    assert policy.key_types["read-only"].rate_limits[0].rate == Rate(600, 60.0, 600)
    write_limits = {limit.name: limit.rate for limit in policy.key_types["write"].rate_limits}
    assert write_limits == {"default": Rate(600, 60.0, 100), "daily": Rate(100000, 86400.0, 100000)}
    assert [rule.name for rule in policy.rules] == [
        "live-writes-need-an-allow-list",
        "keys-read-themselves",
    ]
    assert policy.resources["tasks"] == {"read", "write", "trigger"}
    assert len(policy.digest) == 64


def test_the_digest_changes_with_the_policy_text() -> None:
    a = load_texts({"k.yaml": KEY_TYPES})
    b = load_texts({"k.yaml": KEY_TYPES.replace("600/minute", "601/minute")})
    assert a.digest != b.digest


@pytest.mark.parametrize(
    ("rules", "expected"),
    [
        (
            '  - name: r\n    effect: deny\n    when: key.enviroment == "live"\n',
            "rules.yaml:5:11: unknown attribute 'key.enviroment' (did you mean 'key.environment'?)",
        ),
        (
            '  - name: r\n    effect: deny\n    when: key.environment == "live" and\n',
            "rules.yaml:5:40: unexpected end of condition",
        ),
        (
            "  - name: r\n    effect: deny\n    when: not (request.ip in [10.0.0.0/33])\n",
            "rules.yaml:5:31: invalid CIDR '10.0.0.0/33'",
        ),
        (
            '  - name: r\n    effect: deny\n    when: key.label matches "' + "a*" * 257 + '"\n',
            "rules.yaml:5:29: a glob pattern may hold at most 512 characters; this one holds 514",
        ),
        (
            "  - name: r\n    effect: deny\n    key_types: [reeder]\n",
            "rules.yaml:5:17: unknown key type 'reeder' (did you mean 'reader'?)",
        ),
        (
            "  - name: r\n    effect: deny\n    actions: [wrte]\n",
            "rules.yaml:5:15: unknown action 'wrte' (did you mean 'write'?)",
        ),
        (
            "  - name: r\n    effect: forbid\n",
            "rules.yaml:4:13: effect must be one of allow, deny, not 'forbid'",
        ),
        (
            "  - name: r\n    effect: deny\n    whenever: true\n",
            "rules.yaml:5:5: unknown key 'whenever' in a rule (did you mean 'when'?)",
        ),
        (
            "  - name: r\n    effect: deny\n  - name: r\n    effect: deny\n",
            "rules.yaml:5:5: duplicate rule name 'r' (first at rules.yaml:3:5)",
        ),
        (
            "  - name: r\n    effect: allow\n    code: IP_NOT_ALLOWED\n",
            "rules.yaml:5:5: only a deny rule gives a decision code",
        ),
    ],
)
def test_rule_mistakes_are_reported_at_their_file_line_and_column(
    rules: str, expected: str
) -> None:
    found = errors({"k.yaml": KEY_TYPES, "rules.yaml": f"version: 1\nrules:\n{rules}"})
    assert any(e.startswith(expected) for e in found), found


def test_a_condition_error_in_a_block_scalar_points_into_the_block() -> None:
    rules = (
        "version: 1\nrules:\n  - name: r\n    effect: deny\n    when: |\n"
        '      key.environment == "live"\n        and request.ip in [10.0.0.1/8]\n'
    )
    found = errors({"k.yaml": KEY_TYPES, "rules.yaml": rules})
    assert found == [
        "rules.yaml:7:28: invalid CIDR '10.0.0.1/8': it has host bits set "
        "(did you mean '10.0.0.0/8'?)"
    ]


@pytest.mark.parametrize(
    ("key_type", "expected"),
    [
        ("    rate_limit: 600/minutes\n", "k.yaml:8:17: invalid rate '600/minutes'"),
        (
            "    rate_limit: {limit: 0, per: minute}\n",
            "k.yaml:8:25: limit must be at least 1, not 0",
        ),
        (
            "    rate_limit: {limit: 10, per: fortnight}\n",
            "k.yaml:8:34: invalid duration 'fortnight'",
        ),
        ("    max_lifetime: 90 days\n", "k.yaml:8:19: invalid duration '90 days'"),
        (
            "    usage: {credits: 100, refill: weekly}\n",
            "k.yaml:8:35: refill must be one of daily, monthly, never",
        ),
        (
            "    requires: [allowed_ip]\n",
            "k.yaml:8:16: a key type cannot require 'allowed_ip' (did you mean 'allowed_ips'?)",
        ),
        (
            "    environments: [staging]\n",
            "k.yaml:8:20: environment must be test or live, not 'staging'",
        ),
        (
            "    scope: [events:read]\n",
            "k.yaml:8:5: unknown key 'scope' in key type 'reader' (did you mean 'scopes'?)",
        ),
    ],
)
def test_key_type_mistakes_are_reported(key_type: str, expected: str) -> None:
    text = KEY_TYPES.replace("    rate_limit: 600/minute\n", "") + key_type
    found = errors({"k.yaml": text})
    assert any(e.startswith(expected) for e in found), found


def test_scopes_must_name_known_resources_and_actions() -> None:
    text = KEY_TYPES.replace('["events:read"]', '["evnts:read", "events:reed", "events/42:read:x"]')
    found = errors({"k.yaml": text})
    assert "k.yaml:7:14: unknown resource 'evnts' (did you mean 'events'?)" in found
    assert "k.yaml:7:28: unknown action 'reed' of 'events' (did you mean 'read'?)" in found
    assert any(e.startswith("k.yaml:7:43: invalid scope 'events/42:read:x'") for e in found)


def test_every_error_in_a_directory_is_reported_at_once(tmp_path: Path) -> None:
    shutil.copytree(POLICIES, tmp_path / "policies")
    rules = tmp_path / "policies" / "rules.yaml"
    rules.write_text(rules.read_text().replace("key.environment", "key.enviroment"))
    types = tmp_path / "policies" / "key_types.yaml"
    types.write_text(
        types.read_text().replace("600/minute", "600/minutes").replace("90d", "90 days")
    )
    with pytest.raises(PolicyError) as caught:
        load_directory(tmp_path / "policies")
    files = [d.location.file for d in caught.value.diagnostics]
    assert len(caught.value.diagnostics) == 3
    assert files.count(str(rules)) == 1
    assert files.count(str(types)) == 2


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("version: 1\nkey_types: [a\n", "k.yaml:3:1: invalid YAML"),
        ("version: 2\n", "k.yaml:1:10: unsupported version"),
        ("resources: {}\n", "k.yaml:1:1: missing 'version: 1'"),
        (
            "version: 1\nversion: 1\n",
            "k.yaml:2:1: duplicate key 'version' in a policy file (first at line 1)",
        ),
        (
            "version: 1\nbase: &b {x: 1}\nrules: *b\n",
            "k.yaml:3:8: anchors and aliases are not allowed",
        ),
        (
            "version: 1\nkey_type: {}\n",
            "k.yaml:2:1: unknown key 'key_type' in a policy file (did you mean 'key_types'?)",
        ),
        ("- just a list\n", "k.yaml:1:1: a policy file must be a mapping, not a list"),
        ("version: 1\n---\nversion: 1\n", "k.yaml:1:1: a policy file holds one YAML document"),
        (
            "version: 1\nroutes:\n  GET /v1/x/{id}: x/{ident}:read\n",
            "k.yaml:3:19: '{ident}' is not a parameter of the path '/v1/x/{id}'",
        ),
        (
            "version: 1\nroutes:\n  FETCH /v1/x: x:read\n",
            "k.yaml:3:3: route 'FETCH /v1/x' must be a method and a path",
        ),
        (
            "version: 1\nroutes:\n  GET /v1/x/{a}: x:read\n  GET /v1/x/{b}: x:write\n",
            "k.yaml:4:3: route 'GET /v1/x/{b}' duplicates 'GET /v1/x/{a}'",
        ),
        (
            "version: 1\nheaders: [X-Team]\n",
            "k.yaml:2:11: 'X-Team' is not a header name in lower case",
        ),
    ],
)
def test_file_level_mistakes_are_reported(text: str, expected: str) -> None:
    assert any(e.startswith(expected) for e in errors({"k.yaml": text})), errors({"k.yaml": text})


def test_yaml_booleans_are_not_strings() -> None:
    text = KEY_TYPES.replace("Reads events", "yes")
    assert "k.yaml:6:18: description must be a string, not a boolean" in errors({"k.yaml": text})


def test_an_empty_directory_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="no policy files"):
        load_directory(tmp_path)


def cli(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "policyengine", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_validate_accepts_tdocs_policies() -> None:
    result = cli("validate", "policies")
    assert result.returncode == 0, result.stderr
    assert "policies: valid — 4 key types, 33 routes, 2 rules" in result.stdout


@pytest.mark.parametrize(
    ("file", "old", "new", "expected"),
    [
        (
            "rules.yaml",
            "key.environment",
            "key.enviroment",
            "policies/rules.yaml:8:11: unknown attribute 'key.enviroment' "
            "(did you mean 'key.environment'?)",
        ),
        (
            "rules.yaml",
            "key.allowed_ips == []",
            "key.allowed_ips == [",
            "policies/rules.yaml:8:61: unexpected end of condition",
        ),
        (
            "rules.yaml",
            "key.allowed_ips == []",
            "request.ip in [10.0.0.0/40]",
            "policies/rules.yaml:8:56: invalid CIDR '10.0.0.0/40'",
        ),
        (
            "key_types.yaml",
            "600/minute",
            "600 per minute",
            "policies/key_types.yaml:11:17: invalid rate '600 per minute'",
        ),
        (
            "rules.yaml",
            "actions: [write, trigger, delete]",
            "actions: [write]\n    key_types: [read-onyl]",
            "policies/rules.yaml:8:17: unknown key type 'read-onyl' (did you mean 'read-only'?)",
        ),
    ],
)
def test_cli_reports_each_mistake_as_file_line_column_without_a_traceback(
    tmp_path: Path, file: str, old: str, new: str, expected: str
) -> None:
    shutil.copytree(POLICIES, tmp_path / "policies")
    path = tmp_path / "policies" / file
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))
    for command in ("validate", "test"):
        result = cli(command, "policies", cwd=tmp_path)
        assert result.returncode == 1
        assert any(line.startswith(expected) for line in result.stderr.splitlines()), result.stderr
        assert "Traceback" not in result.stderr + result.stdout


def test_cli_misuse_exits_with_2() -> None:
    assert cli().returncode == 2
    assert cli("validate", "--no-such-option").returncode == 2
    assert cli("frobnicate").returncode == 2


def test_an_empty_policy_file_is_an_error() -> None:
    assert errors({"k.yaml": KEY_TYPES, "empty.yaml": ""}) == [
        "empty.yaml:1:1: the file is empty; it needs 'version: 1'"
    ]


def test_a_rate_period_may_be_abbreviated() -> None:
    text = KEY_TYPES.replace("600/minute", "{limit: 10, per: m, burst: 2}")
    limit = load_texts({"k.yaml": text}).key_types["reader"].rate_limits[0]
    assert (limit.rate.limit, limit.rate.period, limit.rate.burst) == (10, 60.0, 2)


def test_the_root_and_trailing_slashes_are_routes_of_their_own() -> None:
    from policyengine.policy.routes import RouteTable

    text = "version: 1\nroutes:\n  GET /: home:read\n  GET /v1/events/: events:read\n"
    table = RouteTable(load_texts({"r.yaml": text}).routes)
    assert table.match("GET", "/") is not None
    assert table.match("GET", "/v1/events/") is not None
    assert table.match("GET", "/v1/events") is None


def test_a_duplicate_route_says_where_the_first_one_is() -> None:
    text = "version: 1\nroutes:\n  GET /v1/x/{a}: x:read\n  GET /v1/x/{b}: x:read\n"
    assert errors({"k.yaml": text}) == [
        "k.yaml:4:3: route 'GET /v1/x/{b}' duplicates 'GET /v1/x/{a}' (first at k.yaml:3:3)"
    ]


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            "GET /v1/events/{id}: events/{id}:read",
            "GET /v1/events/{id}: evnts/{id}:read",
            "policies/routes.yaml:8:3: route 'GET /v1/events/{id}' names resource 'evnts', "
            "which no scope, rule or resources: entry names (did you mean 'events'?)",
        ),
        (
            "GET /v1/tasks/{id}: tasks/{id}:read",
            "GET /v1/tasks/{id}: tasks/{id}:raed",
            "policies/routes.yaml:18:3: route 'GET /v1/tasks/{id}' names action 'raed' of "
            "'tasks', which no scope, rule or resources: entry names (did you mean 'read'?)",
        ),
    ],
)
def test_validate_catches_a_typo_in_a_routes_resource_or_action(
    tmp_path: Path, old: str, new: str, expected: str
) -> None:
    shutil.copytree(POLICIES, tmp_path / "policies")
    routes = tmp_path / "policies" / "routes.yaml"
    text = routes.read_text()
    assert old in text
    routes.write_text(text.replace(old, new, 1))
    result = cli("validate", "policies", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.splitlines()[0] == expected


@pytest.mark.parametrize("make", ["missing", "file"])
def test_validate_of_a_directory_that_is_not_there_is_misuse(tmp_path: Path, make: str) -> None:
    target = tmp_path / "nosuchdir"
    if make == "file":
        target.write_text("version: 1\n")
    result = cli("validate", str(target))
    assert result.returncode == 2
    reason = "does not exist" if make == "missing" else "is not a directory"
    assert result.stderr == f"error: the policy directory {target} {reason}\n"
    assert result.stdout == ""
