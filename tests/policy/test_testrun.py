"""Policy test runs: results, failures that say why, JUnit XML and coverage."""

from __future__ import annotations

from pathlib import Path
from xml.etree import ElementTree as ET

import pytest

from policyengine.errors import PolicyError
from policyengine.testrun import junit_xml, run_directory

ROOT = Path(__file__).resolve().parents[2]

POLICY = """\
version: 1
routes:
  GET /v1/events: events:read
  POST /v1/events: events:write
key_types:
  reader: {description: r, scopes: ["events:read"]}
  writer: {description: w, scopes: ["events:*"]}
rules:
  - name: no-night-writes
    effect: deny
    actions: [write]
    when: hour(request.time) < 6
"""


def suite(tests: str) -> str:
    return f"""\
version: 1
now: 2026-11-27T03:00:00Z
keys:
  reader: {{type: reader}}
  writer: {{type: writer}}
requests:
  read: {{method: GET, path: /v1/events, ip: 10.0.0.1}}
  write: {{method: POST, path: /v1/events, ip: 10.0.0.1}}
tests:
{tests}"""


def run(tmp_path: Path, tests: str):
    (tmp_path / "p.yaml").write_text(POLICY)
    (tmp_path / "p_test.yaml").write_text(suite(tests))
    return run_directory(tmp_path)


def test_tdocs_suites_pass_with_full_coverage() -> None:
    result = run_directory(ROOT / "policies")
    assert result.failed == []
    assert len(result.results) == 109
    assert result.coverage.rules_complete
    assert all(hit for _, _, hit in result.coverage.scopes)
    assert all(seen == {True, False} for _, seen in result.coverage.branches)


def test_a_failing_case_says_what_was_expected_and_what_happened(tmp_path: Path) -> None:
    result = run(
        tmp_path, "  - {name: writers write at night, key: writer, request: write, expect: OK}\n"
    )
    (failure,) = result.failed
    message = failure.failure()
    assert "p_test.yaml:10:5: expected OK, got DENIED_BY_POLICY by no-night-writes" in message
    assert "key writer (writer, test), POST /v1/events from 10.0.0.1" in message


def test_a_case_may_name_the_deciding_rule(tmp_path: Path) -> None:
    tests = (
        "  - {name: night, key: writer, request: write, expect: DENIED_BY_POLICY, rule: no-night-writes}\n"
        "  - name: day\n    key: writer\n    request: write\n    now: 2026-11-27T12:00:00Z\n    expect: OK\n"
    )
    result = run(tmp_path, tests)
    assert result.failed == []
    assert result.coverage.rules_complete


def test_coverage_does_not_count_rules_a_denied_scope_never_reached(tmp_path: Path) -> None:
    result = run(
        tmp_path,
        "  - {name: readers cannot write, key: reader, request: write, expect: INSUFFICIENT_SCOPE}\n",
    )
    assert result.failed == []
    assert not result.coverage.rules_complete
    assert all(seen == set() for _, seen in result.coverage.branches)
    lines = result.coverage.lines()
    assert any("never matched: rule no-night-writes" in line for line in lines)
    assert "  scopes    0/2 (0%)" in lines


def test_junit_xml_reports_each_case(tmp_path: Path) -> None:
    tests = (
        "  - {name: ok, key: reader, request: read, expect: OK}\n"
        "  - {name: wrong, key: reader, request: read, expect: INSUFFICIENT_SCOPE}\n"
    )
    result = run(tmp_path, tests)
    root = ET.fromstring(junit_xml(result))
    assert root.get("tests") == "2"
    assert root.get("failures") == "1"
    cases = root.findall("./testsuite/testcase")
    assert [c.get("name") for c in cases] == ["ok", "wrong"]
    assert cases[0].find("failure") is None
    assert "expected INSUFFICIENT_SCOPE, got OK" in (cases[1].find("failure").get("message") or "")


def test_the_matrix_form_expands_keys_by_requests(tmp_path: Path) -> None:
    tests = "  - {name: day, keys: [reader, writer], requests: [read, write], now: 2026-11-27T12:00:00Z, expect: OK}\n"
    result = run(tmp_path, tests)
    names = [r.case.name for r in result.results]
    assert names == [
        "day [reader × read]",
        "day [reader × write]",
        "day [writer × read]",
        "day [writer × write]",
    ]
    assert [r.decision.code.value for r in result.results] == [
        "OK",
        "INSUFFICIENT_SCOPE",
        "OK",
        "OK",
    ]
    assert [r.passed for r in result.results] == [True, False, True, True]


def test_a_suite_naming_an_unknown_key_type_or_rule_does_not_load(tmp_path: Path) -> None:
    (tmp_path / "p.yaml").write_text(POLICY)
    text = suite("  - {name: x, key: reader, request: read, expect: OK, rule: no-nigth-writes}\n")
    (tmp_path / "p_test.yaml").write_text(text.replace("{type: reader}", "{type: reeder}"))
    with pytest.raises(PolicyError) as caught:
        run_directory(tmp_path)
    messages = [d.message for d in caught.value.diagnostics]
    assert "unknown key type 'reeder' (did you mean 'reader'?)" in messages
    assert "unknown rule 'no-nigth-writes' (did you mean 'no-night-writes'?)" in messages
