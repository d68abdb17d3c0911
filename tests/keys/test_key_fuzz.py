"""The key API given anything: each call succeeds or refuses with the package's own error
(``KeyRequestError`` for a bad argument, ``KeyNotFound`` for an unknown id), the same in
every store, within bounded time; so a web handler answers 400 or 404, never 500."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from policyengine.errors import InvalidValue, KeyNotFound, KeyRequestError
from policyengine.keys.format import KeyFormat
from policyengine.keys.manager import KeyManager
from policyengine.record import Usage

#: What a bad argument may raise; nothing else may come out.
REFUSED = (KeyRequestError, KeyNotFound)

TEXT = st.one_of(
    st.text(),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=10),
    st.sampled_from(
        [
            "",
            "\x00",
            "a\x00b",
            "\ud800",
            "9" * 5000 + "d",
            "1/" + "9" * 5000 + "s",
            "30d",
            "600/minute",
            "events:read",
            "203.0.113.0/24",
            "read-only",
            "live",
            "test",
            "%",
            "_",
            "\\",
            "key_" + "A" * 20,
        ]
    ),
)
NUMBER = st.one_of(
    st.integers(),
    st.integers(min_value=10**300, max_value=10**400),
    st.floats(),
    st.sampled_from([float("inf"), float("nan"), -0.0, 10**400]),
)
DELTA = st.one_of(
    st.timedeltas(), st.sampled_from([timedelta.max, timedelta.min, timedelta(0), -timedelta(1)])
)
SCALAR = st.one_of(st.none(), st.booleans(), TEXT, NUMBER, DELTA, st.binary(max_size=8))
ANYTHING = st.one_of(
    SCALAR,
    st.lists(SCALAR, max_size=3),
    st.dictionaries(TEXT, SCALAR, max_size=3),
    st.builds(Usage, NUMBER | TEXT, TEXT),
)

FUZZ = settings(
    deadline=timedelta(seconds=5),
    max_examples=60,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def refused_or_done(call: Any, *args: Any, **kwargs: Any) -> None:
    """``call`` succeeds or refuses with a message; any other exception fails the test."""
    message = "done"
    try:
        call(*args, **kwargs)
    except REFUSED as error:
        message = str(error)
    assert message


@FUZZ
@given(
    kind=st.one_of(st.sampled_from(["read-only", "scoped", "full-access"]), ANYTHING),
    label=st.one_of(st.just("fuzz"), ANYTHING),
    environment=st.one_of(st.sampled_from(["live", "test"]), ANYTHING),
    options=st.dictionaries(
        st.sampled_from(
            [
                "expires_in",
                "allowed_ips",
                "rate_limit",
                "rate_limits",
                "scopes",
                "usage",
                "metadata",
            ]
        ),
        ANYTHING,
        max_size=3,
    ),
)
def test_create_with_anything(
    manager: KeyManager, kind: Any, label: Any, environment: Any, options: dict[str, Any]
) -> None:
    refused_or_done(manager.create, type=kind, label=label, environment=environment, **options)


@FUZZ
@given(
    known=st.booleans(),
    key_id=ANYTHING,
    grace=st.one_of(st.just("1h"), ANYTHING),
    expires_in=st.one_of(st.none(), ANYTHING),
)
def test_rotate_with_anything(
    manager: KeyManager, known: bool, key_id: Any, grace: Any, expires_in: Any
) -> None:
    if known:
        key_id = manager.create(type="read-only", label="fuzz", environment="live").key.id
    refused_or_done(manager.rotate, key_id, grace=grace, expires_in=expires_in)


@FUZZ
@given(
    key_id=ANYTHING,
    changes=st.dictionaries(
        st.sampled_from(["label", "expires_in", "allowed_ips", "rate_limit", "metadata"]),
        ANYTHING,
        max_size=3,
    ),
    reason=ANYTHING,
)
def test_lifecycle_calls_with_anything(
    manager: KeyManager, key_id: Any, changes: dict[str, Any], reason: Any
) -> None:
    known = manager.create(type="read-only", label="fuzz", environment="live").key.id
    for target in (key_id, known):
        refused_or_done(manager.get, target)
        refused_or_done(manager.update, target, **changes)
        refused_or_done(manager.disable, target)
        refused_or_done(manager.enable, target)
        refused_or_done(manager.revoke, target, reason=reason)


@FUZZ
@given(
    filters=st.dictionaries(
        st.sampled_from(["environment", "type", "state", "label", "limit", "cursor"]),
        ANYTHING,
        max_size=4,
    )
)
def test_list_with_anything(manager: KeyManager, filters: dict[str, Any]) -> None:
    refused_or_done(manager.list, **filters)


@FUZZ
@given(secret=ANYTHING)
def test_lookup_with_anything(manager: KeyManager, secret: Any) -> None:
    message = "not found"
    try:
        found = manager.lookup(secret)
    except InvalidValue as error:  # a malformed key, which a check calls MALFORMED_CREDENTIAL
        message, found = str(error), None
    assert found is None
    assert message


def test_the_examples_of_the_report_are_refused_with_a_message(manager: KeyManager) -> None:
    with pytest.raises(KeyRequestError, match="duration"):
        manager.create(type="read-only", label="x", environment="live", expires_in="9" * 5000 + "d")
    key = manager.create(type="read-only", label="x", environment="live").key
    with pytest.raises(KeyRequestError, match="grace"):
        manager.rotate(key.id, grace=timedelta.max)
    with pytest.raises(KeyRequestError, match="expires_in"):
        manager.create(type="read-only", label="x", environment="live", expires_in=timedelta.max)


@pytest.mark.parametrize("label", ["\x00", "a\x00", "\x1b[31m", "\ud800"])
def test_a_label_filter_with_a_control_character_is_refused_in_every_store(
    manager: KeyManager, label: str
) -> None:
    manager.create(type="read-only", label="nightly export", environment="live")
    with pytest.raises(KeyRequestError, match="label"):
        manager.list(label=label)


def test_a_label_filter_matches_the_same_keys_in_every_store(manager: KeyManager) -> None:
    for label in ("100% done", "a_b", "back\\slash", "Ünïcode"):
        manager.create(type="read-only", label=label, environment="live")
    assert [k.label for k in manager.list(label="%")] == ["100% done"]
    assert [k.label for k in manager.list(label="_")] == ["a_b"]
    assert [k.label for k in manager.list(label="\\")] == ["back\\slash"]
    assert [k.label for k in manager.list(label="ünï")] == ["Ünïcode"]


def test_an_id_that_cannot_be_a_key_id_is_not_found_in_every_store(manager: KeyManager) -> None:
    for key_id in ("\x00", "key_\x00", "x" * 10_000, "\ud800"):
        with pytest.raises(KeyNotFound):
            manager.get(key_id)
    secret = KeyFormat("tdoc").generate("live")
    with pytest.raises(KeyRequestError, match="secret, not its id") as refused:
        manager.get(secret)
    assert secret not in str(refused.value)
