"""Conditions read the request as the engine resolved it: the method in upper case, the
path as sent, the instant of the decision; for a resource and action, an empty method and
path and the resource named before the first slash."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import SECRET, Clock, edited_policies

from policyengine.decision import Code, Step
from policyengine.engine import Engine
from policyengine.request import Request

CLIENT = "203.0.113.9"

RULES = """rules:
  - name: events-are-kept
    effect: deny
    actions: [delete]
    when: request.method == "DELETE" and request.path matches "/v1/events/*"
    reason: Events are archived, never deleted over HTTP

  - name: direct-checks-only-read
    effect: deny
    when: request.method == "" and request.path == "" and request.action != "read"
    reason: A check that names a resource and action may only read

  - name: closed-before-six
    effect: deny
    when: hour(request.time) < 6
    reason: The API is closed for maintenance before 06:00 UTC

"""


@pytest.fixture
def engine(clock: Clock, tmp_path: Path) -> Iterator[Engine]:
    policies = edited_policies(tmp_path, "rules.yaml", "rules:\n", RULES)
    with Engine.from_directory(
        policies,
        environment="live",
        store="memory://",
        secret=SECRET,
        clock=clock,
        maintenance_interval=None,
    ) as built:
        yield built


def _secret(engine: Engine) -> str:
    issued = engine.keys.create(
        type="scoped",
        label="CI",
        environment="live",
        scopes=["events:*"],
        allowed_ips=[CLIENT],
    )
    return issued.secret


def _check(engine: Engine, secret: str, **asked: str) -> tuple[bool, Code, str | None]:
    decision = engine.check(Request(credential=secret, ip=CLIENT, **asked), dry_run=True)
    return decision.allowed, decision.code, decision.rule.name if decision.rule else None


def test_a_rule_reads_the_method_in_upper_case_and_the_path(engine: Engine) -> None:
    secret = _secret(engine)
    refused = (False, Code.DENIED_BY_POLICY, "events-are-kept")
    assert _check(engine, secret, method="DELETE", path="/v1/events/evt_42") == refused
    assert _check(engine, secret, method="delete", path="/v1/events/evt_42") == refused
    allowed = _check(engine, secret, method="GET", path="/v1/events/evt_42")
    assert allowed[:2] == (True, Code.OK)


def test_a_resource_and_action_have_an_empty_method_and_path(engine: Engine) -> None:
    secret = _secret(engine)
    assert _check(engine, secret, resource="events/evt_42", action="write") == (
        False,
        Code.DENIED_BY_POLICY,
        "direct-checks-only-read",
    )
    assert _check(engine, secret, resource="events/evt_42", action="read")[:2] == (
        True,
        Code.OK,
    )
    # The same write over HTTP has a method and a path.
    over_http = _check(engine, secret, method="PATCH", path="/v1/events/evt_42")
    assert over_http[:2] == (True, Code.OK)


def test_a_rule_reads_the_instant_of_the_decision(engine: Engine, clock: Clock) -> None:
    secret = _secret(engine)
    asked = {"method": "GET", "path": "/v1/events"}
    clock.now = datetime(2026, 11, 27, 6, 0, tzinfo=UTC)
    assert _check(engine, secret, **asked)[:2] == (True, Code.OK)
    clock.now = datetime(2026, 11, 27, 5, 59, 59, tzinfo=UTC)
    assert _check(engine, secret, **asked) == (
        False,
        Code.DENIED_BY_POLICY,
        "closed-before-six",
    )
    # A replay is judged at the instant it names, not at the clock's.
    replay = Request(
        credential=secret,
        method="GET",
        path="/v1/events",
        ip=CLIENT,
        time=datetime(2026, 11, 27, 12, 0, tzinfo=UTC),
    )
    assert engine.check(replay).allowed


def test_a_resource_is_named_before_the_first_slash(engine: Engine) -> None:
    secret = _secret(engine)
    request = Request(credential=secret, resource="events/evt_42/notes", action="read", ip=CLIENT)
    decision = engine.check(request, explain=True, dry_run=True)
    assert decision.allowed
    assert decision.trace is not None
    assert Step("scope", True, "scope events:* grants events/evt_42/notes:read") in decision.trace
