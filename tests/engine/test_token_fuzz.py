"""The token API given anything: ``tokens.issue`` refuses a bad request with a
``KeyRequestError`` and ``tokens.verify`` a bad token with a ``TokenError``, within bounded
time; no other exception comes out, so a web handler answers 400 or 401, never 500."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from policyengine.engine import Engine
from policyengine.errors import KeyRequestError, TokenError

TEXT = st.one_of(
    st.text(),
    st.sampled_from(
        [
            "",
            "\x00",
            "\ud800",
            "15m",
            "9" * 5000 + "s",
            "events:read",
            "a.b.c",
            "e30.e30.e30",
            "eyJhbGciOiJub25lIn0.e30.",
            "x" * 10_000 + ".a.b",
        ]
    ),
)
NUMBER = st.one_of(
    st.integers(),
    st.floats(),
    st.sampled_from([10**400, -(10**400), float("inf"), float("nan"), 0, 1, 900]),
)
SCALAR = st.one_of(st.none(), st.booleans(), TEXT, NUMBER, st.timedeltas(), st.binary(max_size=8))
ANYTHING = st.one_of(
    SCALAR, st.lists(SCALAR, max_size=3), st.dictionaries(TEXT, SCALAR, max_size=2)
)

FUZZ = settings(
    deadline=timedelta(seconds=5),
    max_examples=100,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@FUZZ
@given(
    use_key=st.booleans(),
    secret=ANYTHING,
    scopes=st.one_of(st.none(), ANYTHING, st.lists(TEXT, max_size=3)),
    ttl=st.one_of(st.just("15m"), ANYTHING),
)
def test_issue_with_anything(
    engine: Engine, use_key: bool, secret: Any, scopes: Any, ttl: Any
) -> None:
    if use_key:
        secret = engine.keys.create(type="write", label="t", environment="live").secret
    message = "issued"
    try:
        engine.tokens.issue(secret, scopes=scopes, ttl=ttl)
    except KeyRequestError as error:
        message = str(error)
    assert message


@FUZZ
@given(token=ANYTHING)
def test_verify_with_anything(engine: Engine, token: Any) -> None:
    with pytest.raises(TokenError) as refused:
        engine.tokens.verify(token, datetime(2026, 11, 27, tzinfo=UTC))
    assert str(refused.value)


@pytest.mark.parametrize(
    ("secret", "ttl"),
    [
        (None, "15m"),
        (12, "15m"),
        ("key", 10**400),
        ("key", float("nan")),
        ("key", "9" * 5000 + "s"),
    ],
)
def test_the_examples_of_the_report_are_refused_with_a_message(
    engine: Engine, secret: Any, ttl: Any
) -> None:
    if secret == "key":
        secret = engine.keys.create(type="write", label="t", environment="live").secret
    with pytest.raises(KeyRequestError):
        engine.tokens.issue(secret, ttl=ttl)
