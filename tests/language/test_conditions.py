"""Conditions as a policy author writes them: what they mean, and how they are refused."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from policyengine.context import Context
from policyengine.language.ast import Expr
from policyengine.language.checker import check
from policyengine.language.compiler import compile_predicate
from policyengine.language.parser import MAX_DEPTH, ConditionError, parse
from policyengine.net import parse_ip
from policyengine.record import KeyRecord

KEY = KeyRecord(
    id="key_1",
    type="write",
    label="Nightly Export",
    environment="live",
    prefix="tdoc_live_",
    last4="abcd",
    created_at=datetime(2026, 1, 1, tzinfo=UTC),
    expires_at=datetime(2026, 12, 31, tzinfo=UTC),
    scopes=("events:read",),
    allowed_ips=("10.0.0.0/8", "2001:db8::/32"),
    metadata={"team": "core"},
)
# Monday 2026-06-01, 09:30 UTC.
NOW = datetime(2026, 6, 1, 9, 30, tzinfo=UTC).timestamp()


def request(ip: str = "10.1.2.3", **fields: object) -> Context:
    values: dict[str, object] = {
        "ip": parse_ip(ip),
        "time": NOW,
        "resource": "events",
        "action": "write",
        "resource_id": "evt_42",
        "method": "POST",
        "path": "/v1/events/evt_42",
        "headers": {"x-team": "ops"},
    }
    values.update(fields)
    return Context(**values)  # type: ignore[arg-type]


def holds(source: str, req: Context | None = None, key: KeyRecord = KEY) -> bool:
    tree = check(parse(source), frozenset({"x-team"}))
    return compile_predicate(tree, None, "test")(key, req or request())


def attempt(text: str, headers: frozenset[str]) -> tuple[Expr | None, ConditionError | None]:
    try:
        return check(parse(text), headers), None
    except ConditionError as error:
        return None, error


def refused(source: str) -> ConditionError:
    with pytest.raises(ConditionError) as caught:
        check(parse(source), frozenset({"x-team"}))
    return caught.value


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ('key.environment == "live" and key.allowed_ips == []', False),
        ('key.environment == "live" and key.allowed_ips != []', True),
        ('request.ip in [10.0.0.0/8, "2001:db8::/32"]', True),
        ("not (request.ip in [192.168.0.0/16])", True),
        ("request.ip not in key.allowed_ips", False),
        ('request.ip in "10.0.0.0/8"', True),
        ("request.ip == 10.1.2.3", True),
        ('request.ip == "10.1.2.3"', True),
        ("request.time - key.created_at > 90d", True),
        ("key.expires_at - request.time < 30d", False),
        ('request.time > "2026-05-31T00:00:00Z"', True),
        ('request.time - "2026-06-01T09:00:00Z" == 30m', True),
        ("hour(request.time) == 9", True),
        ('weekday(request.time) in ["sat", "sun"]', False),
        ('key.metadata.team == "core"', True),
        ('key.metadata["missing"] == ""', True),
        ('request.headers["x-team"] == "ops"', True),
        ('resource.id matches "evt_*"', True),
        ('resource.id matches "evt_?"', False),
        ('request.path matches "/v1/*/evt_42"', True),
        ('"Export" in key.label', True),
        ('lower(key.label) == "nightly export"', True),
        ('upper(key.environment) == "LIVE"', True),
        ('startswith(request.path, "/v1/") and endswith(request.path, "42")', True),
        ('"events:read" in key.scopes and len(key.scopes) == 1', True),
        ("len(key.allowed_ips) + 1 >= 3", True),
        ("is_ipv4(request.ip)", True),
        ('request.method in ["GET", "HEAD"] or resource.type == "events"', True),
        ('request.method in [key.environment, "POST"]', True),
        ('request.method not in [lower(request.method), key.label, "GET"]', True),
        ("key.environment in [upper(key.environment), key.type]", False),
        ('len(["a", "b", "c"]) == 3 and len([key.label, "b"]) == 2', True),
        ('resource.id matches lower("EVT_*")', True),
        ("request.path matches key.label", False),
        ('request.path matches request.path + "*"', True),
        ('key.label + "!" == "Nightly Export!"', True),
        ("1.5 + 1 == 2.5", True),
        ("true and not false", True),
        ("1h30m == 90m and 500ms < 1s", True),
    ],
)
def test_condition_means_what_it_says(source: str, expected: bool) -> None:
    assert holds(source) is expected


def test_ipv4_networks_match_ipv4_mapped_ipv6_clients() -> None:
    assert holds("request.ip in 10.0.0.0/8", request("::ffff:10.9.9.9"))
    assert not holds("request.ip in 10.0.0.0/8", request("2001:db8::1"))
    assert holds("request.ip in [2001:db8::/32]", request("2001:db8::1"))
    assert holds("not is_ipv4(request.ip)", request("2001:db8::1"))


@pytest.mark.parametrize(
    ("source", "message", "column"),
    [
        (
            'key.enviroment == "live"',
            "unknown attribute 'key.enviroment' (did you mean 'key.environment'?)",
            0,
        ),
        ("request.ip in [10.0.0.0/33]", "invalid CIDR '10.0.0.0/33'", 15),
        ("request.ip in [10.0.0.1/8]", "has host bits set (did you mean '10.0.0.0/8'?)", 15),
        ('request.ip in ["300.1.1.1"]', "invalid IP address '300.1.1.1'", 15),
        ('key.environment == "live" and', "unexpected end of condition", 29),
        ("key.label ==== 1", "unexpected", 12),
        ("key.label", "a condition must be true or false, but this is a string", 0),
        ('lowr(key.label) == "x"', "unknown function 'lowr' (did you mean 'lower'?)", 0),
        ("lower(1) == 1", "lower(number) does not fit: lower(string) → string", 0),
        ("key.label == 1", "cannot compare a string with a number using ==", 0),
        ("request.ip == 10.0.0.0/8", "an address is not equal to a network; test it with 'in'", 0),
        ("request.time + 1 > request.time", "cannot add a number to a time", 15),
        ('request.headers["x-other"] == ""', "header 'x-other' is not declared", 0),
        ("key.metadata == 1", "'key.metadata' is a map; read one entry", 0),
        ("envrionment == 1", "unknown name 'envrionment'", 0),
        ('request.time > "yesterday"', "invalid time 'yesterday'", 15),
        ('[1, "a"] == []', "a list's items must share one type", 4),
        ('"a\\q" == "a"', "unknown escape '\\q' in a string", 2),
        ("request.ip in [1, 2]", "cannot test whether an ip is in a list[number]", 0),
        ("key.label matches 1", "matches needs a string, not a number", 18),
        ("not 1", "'not' needs a bool, not a number", 4),
        ("30x == 1", "invalid number or duration '30x'", 0),
    ],
)
def test_bad_conditions_are_refused_with_a_message_and_a_position(
    source: str, message: str, column: int
) -> None:
    error = refused(source)
    assert message in error.message
    assert error.offset == column


def test_conditions_longer_than_the_limit_are_refused_before_parsing() -> None:
    error = refused("x" * 1_000_000)
    assert "1,000,000 characters long" in error.message


@pytest.mark.parametrize(
    "source",
    [
        "not " * 10_000 + "true",
        "(" * 10_000 + "true" + ")" * 10_000,
        "[" * 10_000,
        "not (" * 2000 + "true" + ")" * 2000,
    ],
)
def test_deeply_nested_conditions_fail_cleanly(source: str) -> None:
    error = refused(source)
    assert error.message  # a ConditionError, never a RecursionError


def test_a_condition_just_within_the_depth_limit_compiles() -> None:
    depth = MAX_DEPTH // 2 - 2
    assert holds("not " * depth + "true") is (depth % 2 == 0)


def test_long_flat_chains_are_not_deep() -> None:
    source = " and ".join(["true"] * 900)
    assert holds(source)


@given(st.text(max_size=80))
def test_any_text_either_compiles_or_gives_a_condition_error(text: str) -> None:
    tree, error = attempt(text, frozenset({"x-team"}))
    if error is not None:
        assert 0 <= error.offset <= len(text)
    else:
        assert tree is not None
        compile_predicate(tree, None, "fuzz")


@given(
    st.lists(
        st.sampled_from(
            [
                "and",
                "or",
                "not",
                "(",
                ")",
                "key.label",
                '"x"',
                "==",
                "in",
                "[",
                "]",
                ",",
                "1",
                "10.0.0.0/8",
                "request.ip",
                "hour(",
                "30d",
                "-",
                "+",
            ]
        ),
        max_size=20,
    )
)
def test_token_soup_either_compiles_or_gives_a_condition_error(tokens: list[str]) -> None:
    text = " ".join(tokens)
    tree, error = attempt(text, frozenset())
    if error is not None:
        assert 0 <= error.offset <= len(text)
    else:
        assert tree is not None
        assert compile_predicate(tree, None, "fuzz")(KEY, request()) in (True, False)


def test_policy_values_cannot_inject_code() -> None:
    source = 'key.label == "\\" or __import__(\'os\') or \\""'
    assert holds(source) is False
    assert holds('key.metadata["__class__"] == ""')


def test_a_compiled_condition_reaches_no_python_builtins() -> None:
    test = compile_predicate(check(parse('key.label == "x"'), frozenset()), None, "r")
    assert test.__globals__["__builtins__"] == {}


def test_a_rule_without_conditions_matches_every_request() -> None:
    everything = compile_predicate(None, None, "always")
    assert everything(KEY, request()) is True
    assert everything(replace(KEY, label="other"), request("192.0.2.1", method="GET")) is True


class Probe:
    """Counts what the compiler registers and which way each branch goes."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.registered: list[str] = []
        self.hits: list[tuple[int, bool]] = []

    def register(self, node: Expr) -> int:
        self.registered.append(self.source[node.start : node.end])
        return len(self.registered) - 1

    def hit(self, branch: int, value: bool) -> bool:
        self.hits.append((branch, value))
        return value


def test_coverage_probes_see_each_boolean_part_of_when_and_unless_apart() -> None:
    when = 'key.environment == "live" and (request.method == "GET" or true)'
    unless = 'resource.id matches "tsk_*"'
    probes = (Probe(when), Probe(unless))
    trees = (check(parse(when), frozenset()), check(parse(unless), frozenset()))
    test = compile_predicate(*trees, "covered", probes)
    # Every boolean part, inner ones first, and no literal: ``true`` cannot go two ways.
    assert probes[0].registered == [
        'key.environment == "live"',
        'request.method == "GET"',
        'request.method == "GET" or true',
        when,
    ]
    assert probes[1].registered == [unless]
    assert test(KEY, request()) is True
    assert probes[0].hits == [(0, True), (1, False), (2, True), (3, True)]
    assert probes[1].hits == [(0, False)]
    assert test(KEY, request(resource_id="tsk_1")) is False
    assert probes[1].hits == [(0, False), (0, True)]


def test_a_network_on_the_left_of_in_is_refused() -> None:
    for source in ("10.0.0.0/8 in [10.0.0.1]", "10.0.0.0/8 in [10.0.0.0/8]"):
        assert "cannot test whether a cidr is in" in refused(source).message


def test_a_hyphenated_header_written_with_a_dot_gets_a_hint() -> None:
    error = refused('request.headers.x-team == "ops"')
    assert 'written request.headers["x-…"]' in error.message
