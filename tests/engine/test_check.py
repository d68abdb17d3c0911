"""Engine.check: the pipeline's order, every decision code, IPs, proxies and limits."""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterator
from datetime import timedelta

import pytest
from conftest import POLICIES, SECRET, Clock, behind_proxies, edited_policies

from policyengine.decision import Code, Decision, KeyRef, RuleRef, Step
from policyengine.engine import Engine
from policyengine.errors import InvalidValue, StorageError
from policyengine.keys.hashing import KeyHasher
from policyengine.keys.manager import KeyManager
from policyengine.keys.memory import MemoryStore
from policyengine.policy.loader import load_directory, load_texts
from policyengine.request import Request

OFFICE = "203.0.113.0/24"
CLIENT = "203.0.113.9"


def get(
    secret: str | None, path: str = "/v1/events", method: str = "GET", **extra: object
) -> Request:
    values: dict[str, object] = {"credential": secret, "method": method, "path": path, "ip": CLIENT}
    values.update(extra)
    return Request(**values)  # type: ignore[arg-type]


ROUTES = {
    "list-events": ("GET", "/v1/events"),
    "create-event": ("POST", "/v1/events"),
    "delete-event": ("DELETE", "/v1/events/evt_42"),
    "set-member": ("PUT", "/v1/events/evt_42/members/usr_1"),
    "create-task": ("POST", "/v1/tasks"),
    "trigger-run": ("POST", "/v1/tasks/tsk_1/runs"),
    "watch-run": ("GET", "/v1/tasks/tsk_1/runs/run_1"),
    "add-hook": ("POST", "/v1/hooks"),
    "delete-hook": ("DELETE", "/v1/hooks/hk_1"),
    "list-keys": ("GET", "/v1/keys"),
    "revoke-key": ("POST", "/v1/keys/key_1/revoke"),
    "get-token": ("POST", "/v1/auth/token"),
}
OK, SCOPE = Code.OK, Code.INSUFFICIENT_SCOPE
MATRIX = {
    #               list   create delete member task  trigger watch hook  dhook keys  revoke token
    "read-only":   (OK,    SCOPE, SCOPE, SCOPE, SCOPE, SCOPE, OK,   SCOPE, SCOPE, SCOPE, SCOPE, OK),
    "write":       (OK,    OK,    SCOPE, OK,    OK,    OK,    OK,   OK,    OK,    SCOPE, SCOPE, OK),
    "full-access": (OK,    OK,    OK,    OK,    OK,    OK,    OK,   OK,    OK,    OK,    OK,    OK),
    "scoped":      (SCOPE, SCOPE, SCOPE, SCOPE, SCOPE, OK,    SCOPE, SCOPE, SCOPE, SCOPE, SCOPE, OK),
}  # fmt: skip


@pytest.mark.parametrize(
    ("key_type", "route"),
    list(itertools.product(MATRIX, ROUTES)),
)
def test_each_key_type_against_each_route(engine: Engine, key_type: str, route: str) -> None:
    options: dict[str, object] = {"allowed_ips": [OFFICE]}
    if key_type == "scoped":
        options["scopes"] = ["tasks:trigger"]
    if key_type == "full-access":
        options["expires_in"] = "30d"
    issued = engine.keys.create(type=key_type, label="matrix", environment="live", **options)
    method, path = ROUTES[route]
    expected = MATRIX[key_type][list(ROUTES).index(route)]
    decision = engine.check(get(issued.secret, path, method))
    assert decision.code is expected, decision.reason
    assert decision.allowed is (expected is Code.OK)
    assert decision.status == (200 if expected is Code.OK else 403)
    assert decision.key is not None
    assert decision.key.id == issued.key.id


def test_a_live_key_without_an_allow_list_cannot_write(engine: Engine) -> None:
    issued = engine.keys.create(type="write", label="open", environment="live")
    decision = engine.check(get(issued.secret, "/v1/events", "POST"))
    assert decision.code is Code.DENIED_BY_POLICY
    assert decision.rule is not None
    assert decision.rule.name == "live-writes-need-an-allow-list"
    assert str(decision.rule).endswith("policies/rules.yaml:5)")
    assert decision.reason == "Keys that write to production must be restricted to known networks"
    assert engine.check(get(issued.secret)).allowed


def test_credential_problems_come_first(engine: Engine) -> None:
    issued = engine.keys.create(type="read-only", label="x", environment="live")
    assert engine.check(get(None)).code is Code.MISSING_CREDENTIAL
    assert engine.check(get("")).code is Code.MALFORMED_CREDENTIAL
    assert engine.check(get("not-a-key", "/nowhere")).code is Code.MALFORMED_CREDENTIAL
    typo = issued.secret[:-7] + ("A" if issued.secret[-7] != "A" else "B") + issued.secret[-6:]
    assert engine.check(get(typo)).code is Code.MALFORMED_CREDENTIAL
    assert engine.check(get(issued.secret[:-1])).code is Code.MALFORMED_CREDENTIAL
    other = Engine.from_directory(POLICIES, environment="live", store="memory://", secret=SECRET)
    unknown = other.keys.create(type="read-only", label="elsewhere", environment="live")
    other.close()
    decision = engine.check(get(unknown.secret))
    assert (decision.code, decision.status) == (Code.NOT_FOUND, 401)
    assert (decision.allowed, decision.step, decision.reason) == (False, "key", "no such key")


def test_a_credential_problem_names_the_credential_step_and_what_was_wrong(
    engine: Engine,
) -> None:
    with pytest.raises(InvalidValue) as malformed:
        engine.keys.lookup("not-a-key")
    empty = "the credential is empty, or not sent as 'Authorization: Bearer <API key>'"
    asked = [
        (None, Code.MISSING_CREDENTIAL, "no API key was presented"),
        ("", Code.MALFORMED_CREDENTIAL, empty),
        ("   ", Code.MALFORMED_CREDENTIAL, empty),
        ("not-a-key", Code.MALFORMED_CREDENTIAL, str(malformed.value)),
    ]
    for credential, code, reason in asked:
        decision = engine.check(get(credential))
        assert not decision.allowed
        assert (decision.code, decision.step, decision.reason) == (code, "credential", reason)
        assert decision.key is None


def test_each_decision_is_logged_at_debug_with_its_code_key_and_step(
    engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="policyengine")
    issued = engine.keys.create(type="read-only", label="x", environment="live")
    engine.check(get(issued.secret))
    engine.check(get(None))
    assert f"decision OK 200 key={issued.key.id} step=done" in caplog.messages
    assert "decision MISSING_CREDENTIAL 401 key=- step=credential" in caplog.messages


def test_a_keys_last_use_is_noted_at_the_instant_the_engine_decided(clock: Clock) -> None:
    # The key manager keeps its own (real) clock; the engine's decides.
    policy = load_directory(POLICIES)
    keys = KeyManager(
        MemoryStore(), lambda: policy, hasher=KeyHasher(SECRET), maintenance_interval=None
    )
    with Engine(policy, environment="live", keys=keys, clock=clock, monitor="off") as engine:
        issued = engine.keys.create(type="read-only", label="x", environment="live")
        assert engine.check(get(issued.secret)).allowed
        engine.flush()
        record = engine.keys.get(issued.key.id)
    assert record is not None
    assert record.last_used_at == clock.now


def test_a_check_racing_the_engines_close_is_still_answered(clock: Clock) -> None:
    engine = Engine.from_directory(
        POLICIES, environment="live", store="memory://", secret=SECRET, clock=clock
    )
    issued = engine.keys.create(type="read-only", label="x", environment="live")
    engine.close()
    # The monitor is closed first: the decision is not handed to it.
    assert engine.check(get(issued.secret)).allowed


def test_an_engine_for_an_unknown_environment_is_refused() -> None:
    with pytest.raises(InvalidValue) as refused:
        Engine(load_directory(POLICIES), environment="prod", store="memory://", secret=SECRET)
    assert str(refused.value) == "environment must be test or live, not 'prod'"


def test_an_engine_keeps_its_keys_in_policyengine_db_by_default(
    tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with Engine(load_directory(POLICIES), secret=SECRET, monitor="off", handle_signals=False):
        pass
    assert (tmp_path / "policyengine.db").is_file()


def test_an_engine_told_not_to_create_its_key_store_refuses_a_missing_one(tmp_path) -> None:
    missing = tmp_path / "keys.db"
    with pytest.raises(StorageError, match="there is no key store at"):
        Engine(load_directory(POLICIES), store=f"sqlite:///{missing}", secret=SECRET, create=False)
    assert not missing.exists()


def test_key_states_deny_with_their_codes(engine: Engine, clock: Clock) -> None:
    revoked = engine.keys.create(type="read-only", label="r", environment="live")
    engine.keys.revoke(revoked.key.id)
    disabled = engine.keys.create(type="read-only", label="d", environment="live")
    engine.keys.disable(disabled.key.id)
    expiring = engine.keys.create(type="read-only", label="e", environment="live", expires_in="1h")
    assert engine.check(get(revoked.secret)).code is Code.REVOKED
    assert engine.check(get(disabled.secret)).code is Code.DISABLED
    assert engine.check(get(expiring.secret)).allowed
    clock.advance(3600)
    assert engine.check(get(expiring.secret)).code is Code.EXPIRED
    engine.keys.enable(disabled.key.id)
    assert engine.check(get(disabled.secret)).allowed


def test_a_rotated_key_works_until_its_grace_period_ends(engine: Engine, clock: Clock) -> None:
    old = engine.keys.create(type="read-only", label="r", environment="live")
    new = engine.keys.rotate(old.key.id, grace="1h")
    assert engine.check(get(old.secret)).allowed
    assert engine.check(get(new.secret)).allowed
    clock.advance(3600)
    assert engine.check(get(old.secret)).code is Code.REVOKED
    assert engine.check(get(new.secret)).allowed


def test_keys_of_the_other_environment_are_refused(engine: Engine) -> None:
    issued = engine.keys.create(type="read-only", label="t", environment="test")
    decision = engine.check(get(issued.secret))
    assert (decision.code, decision.status) == (Code.WRONG_ENVIRONMENT, 403)


@pytest.mark.parametrize(
    ("networks", "client", "allowed"),
    [
        ([OFFICE], "203.0.113.200", True),
        ([OFFICE], "203.0.114.1", False),
        ([OFFICE], "::ffff:203.0.113.7", True),
        (["2001:db8::/32"], "2001:db8:1::5", True),
        (["2001:db8::/32"], "2001:db9::5", False),
        (["2001:db8::/32"], "203.0.113.9", False),
        (["198.51.100.7"], "198.51.100.7", True),
        (["198.51.100.7"], "198.51.100.8", False),
    ],
)
def test_ip_allow_lists_in_ipv4_and_ipv6(
    engine: Engine, networks: list[str], client: str, allowed: bool
) -> None:
    issued = engine.keys.create(
        type="write", label="pinned", environment="live", allowed_ips=networks
    )
    decision = engine.check(get(issued.secret, "/v1/events", "POST", ip=client))
    assert decision.allowed is allowed
    if not allowed:
        assert (decision.code, decision.status) == (Code.IP_NOT_ALLOWED, 403)


@pytest.mark.parametrize("bad", ["300.1.1.1", "", "::g", "10.0.0.1/8", "fe80::1%eth0"])
def test_a_malformed_client_address_denies(engine: Engine, bad: str) -> None:
    issued = engine.keys.create(type="read-only", label="open", environment="live")
    assert engine.check(get(issued.secret, ip=bad)).code is Code.IP_NOT_ALLOWED


def test_a_request_without_an_address_fails_a_network_restriction(engine: Engine) -> None:
    issued = engine.keys.create(
        type="read-only", label="x", environment="live", allowed_ips=[OFFICE]
    )
    assert engine.check(get(issued.secret, ip=None)).code is Code.IP_NOT_ALLOWED


@pytest.mark.parametrize(
    ("peer", "headers", "allowed"),
    [
        # The proxy names the client: the rightmost address that is not a proxy.
        ("10.0.0.5", {"X-Forwarded-For": "203.0.113.9"}, True),
        ("10.0.0.5", {"X-Forwarded-For": "198.51.100.1, 203.0.113.9, 10.0.0.7"}, True),
        # A client cannot smuggle an address in from the left of the chain.
        ("10.0.0.5", {"X-Forwarded-For": "203.0.113.9, 198.51.100.1"}, False),
        # Forwarding headers from an untrusted peer are ignored.
        ("198.51.100.1", {"X-Forwarded-For": "203.0.113.9"}, False),
        # A malformed hop from a trusted proxy denies.
        ("10.0.0.5", {"X-Forwarded-For": "203.0.113.9, garbage"}, False),
    ],
)
def test_forwarded_addresses_are_believed_only_from_trusted_proxies(
    clock: Clock, peer: str, headers: dict[str, str], allowed: bool
) -> None:
    with behind_proxies(clock) as engine:
        issued = engine.keys.create(
            type="read-only", label="p", environment="live", allowed_ips=[OFFICE]
        )
        decision = engine.check(get(issued.secret, ip=peer, headers=headers))
        assert decision.allowed is allowed
        if not allowed:
            assert decision.code is Code.IP_NOT_ALLOWED


def test_unknown_routes_and_methods_are_denied_by_default(engine: Engine) -> None:
    issued = engine.keys.create(
        type="read-only", label="a", environment="live", allowed_ips=[OFFICE]
    )
    for method, path in [("GET", "/v2/events"), ("PATCH", "/v1/tasks"), ("GET", "/v1/events/")]:
        decision = engine.check(get(issued.secret, path, method))
        assert decision.code is Code.DENIED_BY_POLICY
        assert "no route" in decision.reason
    assert engine.check(get(issued.secret, "/v1/events", "HEAD")).allowed
    # A path is never cut at '?': the query is not part of it.
    assert engine.check(get(issued.secret, "/v1/events?limit=5", "GET")).code is (
        Code.DENIED_BY_POLICY
    )


def test_explicit_resource_and_action_requests(engine: Engine) -> None:
    issued = engine.keys.create(
        type="scoped", label="one", environment="live", scopes=["events/evt_1:read"]
    )
    ask = lambda resource: engine.check(  # noqa: E731
        Request(credential=issued.secret, resource=resource, action="read", ip=CLIENT)
    )
    assert ask("events/evt_1").allowed
    assert ask("events/evt_2").code is Code.INSUFFICIENT_SCOPE
    assert ask("events").code is Code.INSUFFICIENT_SCOPE


def test_rate_limits_answer_429_with_headers_and_retry_after(engine: Engine, clock: Clock) -> None:
    issued = engine.keys.create(
        type="read-only", label="slow", environment="live", rate_limit="3/minute"
    )
    decisions = [engine.check(get(issued.secret)) for _ in range(4)]
    assert [d.code for d in decisions] == [Code.OK, Code.OK, Code.OK, Code.RATE_LIMITED]
    assert dict(decisions[0].headers) == {
        "RateLimit-Policy": '"default";q=3;w=60',
        "RateLimit": '"default";r=2;t=20',
    }
    last = decisions[-1]
    assert last.status == 429
    assert last.headers["Retry-After"] == "20"
    assert last.headers["RateLimit"] == '"default";r=0;t=20'
    clock.advance(20)
    assert engine.check(get(issued.secret)).allowed


def test_a_key_type_with_several_named_limits_reports_each(clock: Clock) -> None:
    with Engine.from_directory(
        POLICIES, store="memory://", secret=SECRET, environment="test", clock=clock
    ) as engine:
        key = engine.keys.create(type="write", label="w", environment="test")
        headers = engine.check(get(key.secret)).headers
        assert headers["RateLimit-Policy"] == '"default";q=600;w=60, "daily";q=100000;w=86400'
        assert headers["RateLimit"] == '"default";r=99;t=1, "daily";r=99999;t=1'


def test_denied_requests_never_consume_the_rate_limit(engine: Engine) -> None:
    issued = engine.keys.create(
        type="read-only", label="x", environment="live", rate_limit="2/minute"
    )
    for _ in range(10):
        denied = engine.check(get(issued.secret, "/v1/events", "POST"))
        assert denied.code is Code.INSUFFICIENT_SCOPE
    codes = [engine.check(get(issued.secret)).code for _ in range(3)]
    assert codes == [Code.OK, Code.OK, Code.RATE_LIMITED]


def _reader_limited_by(clock: Clock, tmp_path, limits: str) -> Engine:
    """An engine over tDoc's policies whose read-only keys have ``limits`` instead of
    600 requests a minute."""
    policies = edited_policies(tmp_path, "key_types.yaml", "    rate_limit: 600/minute\n", limits)
    return Engine.from_directory(
        policies, environment="live", store="memory://", secret=SECRET, clock=clock
    )


def test_usage_credits_run_out(clock: Clock, tmp_path) -> None:
    policies = edited_policies(
        tmp_path,
        "key_types.yaml",
        "    rate_limit: 600/minute\n",
        "    rate_limit: 600/minute\n    usage: {credits: 2, refill: daily}\n",
    )
    with Engine.from_directory(
        policies, environment="live", store="memory://", secret=SECRET, clock=clock
    ) as engine:
        issued = engine.keys.create(type="read-only", label="metered", environment="live")
        codes = [engine.check(get(issued.secret)).code for _ in range(3)]
        assert codes == [Code.OK, Code.OK, Code.USAGE_EXCEEDED]
        assert engine.check(get(issued.secret)).status == 429
        clock.advance(86400)
        assert engine.check(get(issued.secret)).allowed


def test_credits_are_spent_by_a_key_type_with_no_rate_limit(clock: Clock, tmp_path) -> None:
    credits = "    usage: {credits: 2, refill: daily}\n"
    with _reader_limited_by(clock, tmp_path, credits) as engine:
        issued = engine.keys.create(type="read-only", label="metered", environment="live")
        codes = [engine.check(get(issued.secret)).code for _ in range(3)]
    assert codes == [Code.OK, Code.OK, Code.USAGE_EXCEEDED]


def test_a_key_type_with_no_limits_is_not_metered(clock: Clock, tmp_path) -> None:
    with _reader_limited_by(clock, tmp_path, "") as engine:
        issued = engine.keys.create(type="read-only", label="unmetered", environment="live")
        decision = engine.check(get(issued.secret), explain=True)
    assert decision.allowed
    assert dict(decision.headers) == {}
    assert decision.trace is not None
    assert [step.step for step in decision.trace] == ["state", "environment", "ip", "scope"]


def test_a_request_over_several_limits_at_once_names_each(clock: Clock, tmp_path) -> None:
    limits = "    rate_limits: {default: 2/minute, hourly: 2/hour}\n"
    with _reader_limited_by(clock, tmp_path, limits) as engine:
        issued = engine.keys.create(type="read-only", label="two limits", environment="live")
        assert [engine.check(get(issued.secret)).allowed for _ in range(2)] == [True, True]
        decision = engine.check(get(issued.secret))
    assert not decision.allowed
    assert (decision.code, decision.reason) == (
        Code.RATE_LIMITED,
        "over the rate limit (default, hourly)",
    )


def test_explain_lists_every_step(engine: Engine) -> None:
    issued = engine.keys.create(type="write", label="x", environment="live")
    decision = engine.check(get(issued.secret, "/v1/events", "POST"), explain=True)
    assert decision.trace is not None
    steps = [(s.step, s.passed) for s in decision.trace]
    assert steps == [
        ("state", True),
        ("environment", True),
        ("ip", True),
        ("scope", True),
        ("rules", False),
    ]
    assert "live-writes-need-an-allow-list" in decision.trace[-1].detail
    assert engine.check(get(issued.secret)).trace is None


def test_a_revoked_key_on_an_unknown_path_is_revoked(engine: Engine) -> None:
    issued = engine.keys.create(type="read-only", label="r", environment="live")
    engine.keys.revoke(issued.key.id)
    assert engine.check(get(issued.secret, "/v2/unknown")).code is Code.REVOKED
    assert engine.check(get(issued.secret, ip="garbage")).code is Code.REVOKED


REPORTS = """\
version: 1
headers: [user-agent]
routes:
  GET /v1/reports: reports:read
  POST /v1/reports/{id}/export: reports/{id}:export
key_types:
  analyst:
    description: Reads and exports reports
    scopes: ["reports:*"]
rules:
  - name: no-exports-from-scripts
    effect: deny
    actions: [export]
    when: request.headers["user-agent"] matches "curl/*"
    reason: Reports are exported from the dashboard
  - name: api-keys-only
    effect: deny
    actions: [read]
    when: request.credential != "key"
    reason: Reports are read with API keys
"""


@pytest.fixture
def reports(clock: Clock) -> Iterator[tuple[Engine, str]]:
    policy = load_texts({"reports.yaml": REPORTS})
    options = {"environment": "live", "store": "memory://", "secret": SECRET, "clock": clock}
    with Engine(policy, **options) as engine:
        issued = engine.keys.create(type="analyst", label="a", environment="live")
        yield engine, issued.secret


def test_a_rule_reads_a_declared_header_whatever_its_case(reports: tuple[Engine, str]) -> None:
    engine, secret = reports

    def export(headers: dict[str, str]) -> Decision:
        return engine.check(
            Request(credential=secret, method="POST", path="/v1/reports/r1/export", headers=headers)
        )

    denied = export({"User-Agent": "curl/8.5.0", "Accept": "*/*"})
    assert (denied.code, denied.rule and denied.rule.name) == (
        Code.DENIED_BY_POLICY,
        "no-exports-from-scripts",
    )
    assert export({"user-agent": "Mozilla/5.0"}).allowed
    assert export({"accept": "*/*"}).allowed


def test_an_api_key_is_a_key_to_the_rules(reports: tuple[Engine, str]) -> None:
    engine, secret = reports
    assert engine.check(Request(credential=secret, method="GET", path="/v1/reports")).allowed


def test_a_resource_without_an_action_is_decided_by_the_route(reports: tuple[Engine, str]) -> None:
    engine, secret = reports
    asked = Request(credential=secret, method="GET", path="/v1/reports", resource="reports")
    assert engine.check(asked).allowed


@pytest.mark.parametrize(
    ("path", "shown"),
    [
        ("/v1/" + "a" * 94 + "//", "/v1/" + "a" * 94 + "//"),
        ("/v1/" + "a" * 94 + "//b", "/v1/" + "a" * 94 + "//…"),
    ],
)
def test_a_refused_path_is_shown_up_to_100_characters(
    engine: Engine, path: str, shown: str
) -> None:
    issued = engine.keys.create(type="read-only", label="r", environment="live")
    decision = engine.check(Request(credential=issued.secret, method="GET", path=path, ip=CLIENT))
    assert (decision.code, decision.step, decision.rule) == (
        Code.DENIED_BY_POLICY,
        "scope",
        RuleRef("path"),
    )
    assert decision.reason == f"the path {shown!r} is refused: it has an empty segment ('//')"


def test_a_malformed_client_address_is_denied_at_the_ip_step(engine: Engine) -> None:
    issued = engine.keys.create(type="read-only", label="r", environment="live")
    decision = engine.check(
        Request(credential=issued.secret, method="GET", path="/v1/events", ip="203.0.113")
    )
    assert (decision.code, decision.step, decision.rule, decision.reason) == (
        Code.IP_NOT_ALLOWED,
        "ip",
        RuleRef("ip"),
        "the client address is malformed: invalid IP address '203.0.113'",
    )


def test_a_decision_names_the_key_its_type_environment_and_current_expiry(
    engine: Engine, clock: Clock
) -> None:
    issued = engine.keys.create(type="read-only", label="r", environment="live", expires_in="1h")
    asked = Request(credential=issued.secret, method="GET", path="/v1/events", ip=CLIENT)
    assert engine.check(asked).key == KeyRef(
        issued.key.id, "read-only", "live", clock() + timedelta(hours=1)
    )
    engine.keys.update(issued.key.id, expires_in="2h")
    assert engine.check(asked).key == KeyRef(
        issued.key.id, "read-only", "live", clock() + timedelta(hours=2)
    )


def test_an_explained_denial_of_the_keys_state_or_environment_says_where_it_stopped(
    engine: Engine,
) -> None:
    revoked = engine.keys.create(type="read-only", label="r", environment="live")
    engine.keys.revoke(revoked.key.id)
    test_key = engine.keys.create(type="read-only", label="t", environment="test")

    def explained(secret: str) -> Decision:
        asked = Request(credential=secret, method="GET", path="/v1/events", ip=CLIENT)
        return engine.check(asked, explain=True)

    denied = explained(revoked.secret)
    assert (denied.code, denied.reason) == (Code.REVOKED, "the key is revoked")
    assert denied.trace == (Step("state", False, "the key is revoked"),)
    wrong = explained(test_key.secret)
    reason = "a test key cannot be used in the live environment"
    assert (wrong.code, wrong.reason) == (Code.WRONG_ENVIRONMENT, reason)
    assert wrong.trace == (
        Step("state", True, "the key is active"),
        Step("environment", False, reason),
    )


@pytest.mark.parametrize(
    ("ip", "shown"),
    [("203.0.113.9", "203.0.113.9"), ("::", "::"), (None, "an unknown address")],
)
def test_an_address_outside_the_keys_networks_is_denied_at_the_ip_step_naming_it(
    engine: Engine, ip: str | None, shown: str
) -> None:
    issued = engine.keys.create(
        type="read-only", label="r", environment="live", allowed_ips=["198.51.100.0/24"]
    )
    asked = Request(credential=issued.secret, method="GET", path="/v1/events", ip=ip)
    denied = engine.check(asked, explain=True)
    reason = f"{shown} is outside the networks this key is restricted to"
    assert (denied.code, denied.step, denied.rule, denied.reason) == (
        Code.IP_NOT_ALLOWED,
        "ip",
        RuleRef("ip"),
        reason,
    )
    assert denied.key is not None
    assert denied.key.id == issued.key.id
    assert denied.trace == (
        Step("state", True, "the key is active"),
        Step("environment", True, "live key in the live environment"),
        Step("ip", False, reason),
    )
    inside = Request(credential=issued.secret, method="GET", path="/v1/events", ip="198.51.100.7")
    trace = engine.check(inside, explain=True).trace
    assert trace is not None
    assert trace[2] == Step("ip", True, "within the key's networks")


@pytest.mark.parametrize(
    ("method", "path", "reason"),
    [
        ("get", "/v1/nothing", "no route in the policies matches GET /v1/nothing"),
        (None, None, "the request names neither a method and path nor a resource and action"),
        ("GET", None, "the request names neither a method and path nor a resource and action"),
        (
            None,
            "/v1/events",
            "the request names neither a method and path nor a resource and action",
        ),
    ],
)
def test_a_request_no_route_matches_is_denied_at_the_scope_step(
    engine: Engine, method: str | None, path: str | None, reason: str
) -> None:
    issued = engine.keys.create(type="read-only", label="r", environment="live")
    asked = Request(credential=issued.secret, method=method, path=path, ip=CLIENT)
    denied = engine.check(asked)
    assert (denied.code, denied.step, denied.rule, denied.reason) == (
        Code.DENIED_BY_POLICY,
        "scope",
        RuleRef("routes"),
        reason,
    )
