"""Properties: no change to a token's text gets past verification, and a token carries
exactly the scopes asked for, whichever of the key's they are."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from policyengine.tokens import (
    SigningKeys,
    TokenInvalid,
    TokenService,
    looks_like_jwt,
)

from .conftest import AUDIENCE, GRANTED, ISSUER, NOW, key_record

SERVICE = TokenService(SigningKeys(now=NOW), ISSUER, AUDIENCE)
TOKEN = SERVICE.issue(key_record(), GRANTED, ["events:read", "tasks:read"], "15m", NOW)
TOKEN_BYTES = TOKEN.encode("ascii")


@given(
    position=st.integers(min_value=0, max_value=len(TOKEN_BYTES) - 1),
    byte=st.integers(min_value=0, max_value=255),
)
def test_any_single_byte_change_to_a_valid_token_is_refused(position: int, byte: int) -> None:
    if byte == TOKEN_BYTES[position]:
        byte ^= 0xFF
    changed = bytearray(TOKEN_BYTES)
    changed[position] = byte
    with pytest.raises(TokenInvalid):
        SERVICE.verify(changed.decode("latin-1"), NOW)


ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


@pytest.mark.parametrize("flip", [1, 2, 32])
def test_every_character_changed_within_the_alphabet_is_refused(flip: int) -> None:
    # Hypothesis samples bytes; this walks every position with the changes most likely
    # to slip through: another base64url character a bit or two away.
    for position, character in enumerate(TOKEN):
        if character == ".":
            continue
        replacement = ALPHABET[ALPHABET.index(character) ^ flip]
        with pytest.raises(TokenInvalid):
            SERVICE.verify(TOKEN[:position] + replacement + TOKEN[position + 1 :], NOW)


@given(length=st.integers(min_value=0, max_value=len(TOKEN) - 1))
def test_any_truncation_of_a_valid_token_is_refused(length: int) -> None:
    with pytest.raises(TokenInvalid):
        SERVICE.verify(TOKEN[:length], NOW)


@given(position=st.integers(min_value=0, max_value=len(TOKEN)), text=st.text(min_size=1))
def test_any_insertion_into_a_valid_token_is_refused(position: int, text: str) -> None:
    with pytest.raises(TokenInvalid):
        SERVICE.verify(TOKEN[:position] + text + TOKEN[position:], NOW)


def test_the_token_under_test_is_valid() -> None:
    assert SERVICE.verify(TOKEN, NOW).scopes == ("events:read", "tasks:read")


NARROWER = {
    "events:*": ["events:read", "events:write", "events:delete", "events/evt_1:read"],
    "tasks:read": ["tasks:read", "tasks/tsk_9:read"],
    "hooks:read": ["hooks:read", "hooks/hk_3:read"],
}


@given(
    st.lists(
        st.sampled_from([scope for scopes in NARROWER.values() for scope in scopes]),
        min_size=1,
        unique=True,
    )
)
def test_a_token_carries_exactly_the_scopes_asked_for(requested: list[str]) -> None:
    token = SERVICE.issue(key_record(), GRANTED, requested, "5m", NOW)
    assert SERVICE.verify(token, NOW).scopes == tuple(requested)


@given(st.text())
def test_arbitrary_text_is_refused(text: str) -> None:
    with pytest.raises(TokenInvalid):
        SERVICE.verify(text, NOW)


@pytest.mark.parametrize(
    ("credential", "expected"),
    [
        (TOKEN, True),
        ("a.b.c", True),
        ("tdoc_live_aB3dE5gH7jK9mN1pQ3sT5vW7yZ9bC1eF2gH4", False),
        ("e30.e30", False),
        ("e30..e30", False),
        ("e30.e30.e30.e30", False),
        ("e30.e 30.e30", False),
        ("", False),
        ("x" * 10_000 + ".a.b", True),
    ],
)
def test_looks_like_jwt_routes_by_shape(credential: str, expected: bool) -> None:
    assert looks_like_jwt(credential) is expected
