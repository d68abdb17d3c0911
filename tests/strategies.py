"""Hypothesis strategies: well-typed conditions, policy sets built from them, keys and
requests to ask about."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

from hypothesis import settings
from hypothesis import strategies as st

from policyengine.errors import Location
from policyengine.language.checker import check
from policyengine.language.parser import parse
from policyengine.policy.model import Condition, KeyType, PolicySet, Rule
from policyengine.policy.scopes import parse_scope
from policyengine.record import KeyRecord


def examples(count: int) -> int:
    """``count`` Hypothesis examples, or under the ``mutation`` profile no more than it
    asks: a property run once per mutant must take seconds, not a minute."""
    if os.environ.get("HYPOTHESIS_PROFILE") == "mutation":
        return min(count, settings().max_examples)
    return count


RESOURCES = {
    "events": frozenset({"read", "write", "delete"}),
    "tasks": frozenset({"read", "trigger"}),
}
ACTIONS = sorted(set().union(*RESOURCES.values()))
HEADERS = ("x-team",)
WORDS = ("live", "test", "ci", "core", "ops", "export", "")
CIDRS = (
    "10.0.0.0/8",
    "10.1.0.0/16",
    "203.0.113.0/24",
    "2001:db8::/32",
    "::ffff:10.0.0.0/104",
    "::/0",
)
ADDRESSES = (
    "10.1.2.3",
    "10.200.0.1",
    "203.0.113.9",
    "198.51.100.1",
    "2001:db8::17",
    "::ffff:10.1.2.3",
    "::1",
)
BASE = datetime(2026, 6, 1, tzinfo=UTC)

KEY_TYPES = {
    "fixed": KeyType(
        "fixed", "scopes of its own", (parse_scope("events:read"), parse_scope("tasks:*"))
    ),
    "everything": KeyType("everything", "all", (parse_scope("*"),)),
    "own": KeyType(
        "own",
        "scopes from the key",
        None,
        allowed_scopes=(parse_scope("events:*"), parse_scope("tasks:read")),
    ),
}


def _string(depth: int) -> st.SearchStrategy[str]:
    leaves = st.one_of(
        st.sampled_from(
            [
                "key.id",
                "key.type",
                "key.label",
                "key.environment",
                "request.method",
                "request.action",
                "resource.type",
                "resource.id",
                "key.metadata.team",
                'request.headers["x-team"]',
                "weekday(request.time)",
            ]
        ),
        st.sampled_from(WORDS).map(lambda w: f'"{w}"'),
    )
    if depth <= 0:
        return leaves
    inner = _string(depth - 1)
    return st.one_of(
        leaves,
        inner.map(lambda s: f"lower({s})"),
        inner.map(lambda s: f"upper({s})"),
        st.tuples(inner, inner).map(lambda p: f"{p[0]} + {p[1]}"),
    )


def _number(depth: int) -> st.SearchStrategy[str]:
    leaves = st.one_of(
        st.integers(0, 30).map(str),
        st.sampled_from(
            [
                "len(key.scopes)",
                "len(key.allowed_ips)",
                "hour(request.time)",
                "hour(key.created_at)",
                "2.5",
            ]
        ),
    )
    if depth <= 0:
        return leaves
    return st.one_of(
        leaves,
        _string(depth - 1).map(lambda s: f"len({s})"),
        st.tuples(_number(depth - 1), st.sampled_from("+-"), _number(depth - 1)).map(" ".join),
    )


TIME_ATTRIBUTES = st.sampled_from(["request.time", "key.created_at", "key.expires_at"])


def _time(depth: int) -> st.SearchStrategy[str]:
    leaves = st.sampled_from(
        ["request.time", "key.created_at", "key.expires_at", '"2026-06-01T12:00:00Z"']
    )
    if depth <= 0:
        return leaves
    return st.one_of(
        leaves, st.tuples(_time(depth - 1), st.sampled_from("+-"), _duration(0)).map(" ".join)
    )


def _duration(depth: int) -> st.SearchStrategy[str]:
    leaves = st.sampled_from(["1h", "30m", "7d", "90d", "1h30m", "500ms"])
    if depth <= 0:
        return leaves
    return st.one_of(
        leaves,
        st.tuples(TIME_ATTRIBUTES, _time(0)).map(lambda p: f"({p[0]} - {p[1]})"),
        st.tuples(_duration(depth - 1), st.sampled_from("+-"), _duration(depth - 1)).map(" ".join),
    )


def _comparison(depth: int) -> st.SearchStrategy[str]:
    ordered = st.one_of(
        st.tuples(
            _number(depth), st.sampled_from(["<", "<=", ">", ">=", "==", "!="]), _number(depth)
        ),
        st.tuples(_time(depth), st.sampled_from(["<", ">=", "=="]), _time(depth)),
        st.tuples(_duration(depth), st.sampled_from(["<", ">", "!="]), _duration(depth)),
        st.tuples(_string(depth), st.sampled_from(["==", "!=", "<", ">="]), _string(depth)),
    ).map(" ".join)
    cidr_list = st.lists(st.sampled_from(CIDRS + ADDRESSES), max_size=3).map(
        lambda items: "[" + ", ".join(items if len(items) % 2 else [f'"{i}"' for i in items]) + "]"
    )
    # The client's own address among the networks: an address the checker makes a network.
    with_client = st.lists(st.sampled_from((*CIDRS, *ADDRESSES, "request.ip")), max_size=3).map(
        lambda items: "[" + ", ".join(sorted({*items, "request.ip"}, key=str.lower)) + "]"
    )
    membership = st.one_of(
        st.tuples(
            st.one_of(st.just("request.ip"), st.sampled_from(ADDRESSES)),
            st.sampled_from(["in", "not in"]),
            st.one_of(cidr_list, with_client, st.just("key.allowed_ips"), st.sampled_from(CIDRS)),
        ),
        st.tuples(
            _string(depth),
            st.sampled_from(["in", "not in"]),
            st.lists(st.sampled_from(WORDS).map(lambda w: f'"{w}"'), max_size=3).map(
                lambda i: "[" + ", ".join(i) + "]"
            ),
        ),
        st.tuples(
            st.sampled_from(['"events:read"', '"tasks:*"']), st.just("in"), st.just("key.scopes")
        ),
        st.tuples(_string(depth), st.just("in"), _string(depth)),
    ).map(" ".join)
    other = st.one_of(
        st.tuples(
            _string(depth), st.sampled_from(['"*"', '"c*"', '"?i*"', '"evt_*"', '"*e*t"'])
        ).map(lambda p: f"{p[0]} matches {p[1]}"),
        st.tuples(_string(depth), _string(depth)).map(lambda p: f"startswith({p[0]}, {p[1]})"),
        st.tuples(_string(depth), _string(depth)).map(lambda p: f"endswith({p[0]}, {p[1]})"),
        st.just("is_ipv4(request.ip)"),
        st.sampled_from(
            [
                "key.allowed_ips == []",
                "key.allowed_ips != []",
                "key.scopes == []",
                "request.ip == 10.1.2.3",
                "true",
                "false",
            ]
        ),
    )
    return st.one_of(ordered, membership, other)


def conditions(depth: int = 3, width: int = 3) -> st.SearchStrategy[str]:
    """A boolean condition, nested up to ``depth`` and with up to ``width`` operands."""
    if depth <= 0:
        return _comparison(0)
    inner = conditions(depth - 1, width)
    return st.one_of(
        _comparison(min(depth - 1, 1)),
        inner.map(lambda c: f"not ({c})"),
        st.lists(inner, min_size=2, max_size=width).map(lambda cs: "(" + " and ".join(cs) + ")"),
        st.lists(inner, min_size=2, max_size=width).map(lambda cs: "(" + " or ".join(cs) + ")"),
    )


def condition(source: str) -> Condition:
    return Condition(
        source, check(parse(source), frozenset(HEADERS)), Location("generated.yaml", 1, 1)
    )


@st.composite
def rules(draw: st.DrawFn, name: str) -> Rule:
    effect = draw(st.sampled_from(["allow", "deny"]))
    return Rule(
        name=name,
        effect=effect,
        reason=f"{effect} by {name}",
        actions=tuple(
            draw(
                st.one_of(
                    st.just(["*"]),
                    st.lists(st.sampled_from(ACTIONS), min_size=1, max_size=2, unique=True),
                )
            )
        ),
        resources=tuple(
            draw(
                st.one_of(
                    st.just(["*"]),
                    st.lists(
                        st.sampled_from(sorted(RESOURCES)), min_size=1, max_size=2, unique=True
                    ),
                )
            )
        ),
        key_types=tuple(
            draw(st.lists(st.sampled_from(sorted(KEY_TYPES)), max_size=2, unique=True))
        ),
        when=condition(draw(conditions())) if draw(st.booleans()) else None,
        unless=condition(draw(conditions(depth=1))) if draw(st.integers(0, 3)) == 0 else None,
        code=draw(st.sampled_from(["DENIED_BY_POLICY", "IP_NOT_ALLOWED"]))
        if effect == "deny"
        else "DENIED_BY_POLICY",
    )


@st.composite
def policy_sets(draw: st.DrawFn, max_rules: int = 5) -> PolicySet:
    count = draw(st.integers(0, max_rules))
    generated = tuple(draw(rules(f"rule-{i}")) for i in range(count))
    return PolicySet(
        key_types=KEY_TYPES,
        rules=generated,
        resources=RESOURCES,
        headers=HEADERS,
        digest="generated",
    )


@st.composite
def keys(draw: st.DrawFn) -> KeyRecord:
    key_type = draw(st.sampled_from([*sorted(KEY_TYPES), "unknown"]))
    created = BASE - timedelta(days=draw(st.integers(0, 400)))
    expires = draw(
        st.one_of(st.none(), st.integers(-5, 200).map(lambda d: BASE + timedelta(days=d)))
    )
    return KeyRecord(
        id=f"key_{draw(st.sampled_from(['a1', 'ci', 'core']))}",
        type=key_type,
        label=draw(st.sampled_from(["nightly export", "CI trigger", "core", "ops"])),
        environment="test" if draw(st.integers(0, 9)) == 9 else "live",
        prefix="tdoc_live_",
        last4="abcd",
        created_at=created,
        expires_at=expires,
        scopes=tuple(
            draw(
                st.lists(
                    st.sampled_from(
                        [
                            "events:read",
                            "events:*",
                            "tasks:read",
                            "tasks:trigger",
                            "events/evt_1:delete",
                            "*",
                        ]
                    ),
                    max_size=3,
                    unique=True,
                )
            )
        ),
        allowed_ips=tuple(draw(st.lists(st.sampled_from(CIDRS), max_size=2, unique=True))),
        metadata=draw(st.one_of(st.just({}), st.sampled_from(WORDS).map(lambda w: {"team": w}))),
        disabled=draw(st.integers(0, 19)) == 19,
        revoked_at=BASE - timedelta(days=1) if draw(st.integers(0, 19)) == 19 else None,
    )


@st.composite
def requests(draw: st.DrawFn) -> dict[str, object]:
    """A request as plain values: what the reference interpreter reads."""
    resource = draw(st.sampled_from(sorted(RESOURCES)))
    return {
        "request.ip": draw(st.sampled_from(ADDRESSES)),
        "request.method": draw(st.sampled_from(["GET", "POST", "DELETE"])),
        "request.path": "/v1/x",
        "request.time": (BASE + timedelta(hours=draw(st.integers(0, 24 * 14)))).timestamp(),
        "request.action": draw(st.sampled_from(ACTIONS)),
        "request.credential": "key",
        "request.headers": draw(
            st.one_of(st.just({}), st.sampled_from(WORDS).map(lambda w: {"x-team": w}))
        ),
        "resource.type": resource,
        "resource.id": draw(st.sampled_from(["", "evt_1", "evt_2"])),
    }
