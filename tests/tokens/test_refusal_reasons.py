"""Each refusal of a token says exactly why, in words an integrator can act on: the reason
is what the decision carries back to the caller."""

from __future__ import annotations

import base64
from datetime import timedelta
from typing import Any

import pytest

from policyengine.decision import Code
from policyengine.errors import InvalidValue
from policyengine.tokens import TokenService
from policyengine.tokens.compact import (
    MAX_TOKEN_LENGTH,
    decode_part,
    encode_part,
    json_object,
    looks_like_jwt,
    split_token,
)
from policyengine.tokens.errors import TokenInvalid
from policyengine.tokens.signing import P256_ORDER

from .conftest import NOW, Forge, b64, refused

ISSUED = int(NOW.timestamp())

HEADERS: list[tuple[dict[str, Any], str]] = [
    ({"alg": None}, "the token names no signing algorithm"),
    ({"alg": "none"}, "unsigned tokens (alg none) are refused"),
    ({"alg": " NONE"}, "unsigned tokens (alg none) are refused"),
    ({"alg": "HS256"}, "the token's signing algorithm is not allowed: only ES256 is"),
    ({"crit": ["exp"]}, "the token declares critical header extensions; none are supported"),
    (
        {"jku": "https://attacker.example/keys"},
        "the token carries or points to its own key; only this service's keys verify",
    ),
    ({"cty": "JWT"}, "the token's header has parameters this service never issues"),
    ({"typ": None}, "the token has no typ; an access token's is at+jwt"),
    ({"typ": "JWT"}, "the token is not an access token (its typ must be at+jwt)"),
    ({"kid": "../../etc/passwd"}, "the token's kid is missing or is not a key id of this service"),
]


@pytest.mark.parametrize(("header", "reason"), HEADERS)
def test_a_refused_header_says_why(
    forge: Forge, service: TokenService, header: dict[str, Any], reason: str
) -> None:
    assert str(refused(service, forge(header=header), Code.TOKEN_INVALID)) == reason


CLAIMS: list[tuple[dict[str, Any], str]] = [
    ({"sub": None}, "the token has no 'sub' claim"),
    ({"sub": 7}, "the token's 'sub' claim is not a non-empty string"),
    ({"jti": ""}, "the token's 'jti' claim is not a non-empty string"),
    ({"iss": "https://other.example"}, "the token was issued by someone else (wrong iss)"),
    ({"aud": "https://other.example"}, "the token is meant for another audience (wrong aud)"),
    ({"env": "prod"}, "the token's 'env' claim is not an environment"),
    ({"exp": ISSUED + 3601}, "the token's lifetime is not one this service issues"),
    ({"iat": "yesterday"}, "the token's 'iat' claim is not a number of seconds"),
    ({"nbf": 1e300}, "the token's 'nbf' claim is out of range"),
    ({"scope": "events:read  tasks:read"}, "the token's 'scope' claim is not a list of scopes"),
    ({"nbf": ISSUED + 60}, "the token is not valid yet (nbf is in the future)"),
    (
        {"iat": ISSUED + 60, "nbf": ISSUED, "exp": ISSUED + 600},
        "the token claims to be issued in the future (iat)",
    ),
]


@pytest.mark.parametrize(("claims", "reason"), CLAIMS)
def test_refused_claims_say_why(
    forge: Forge, service: TokenService, claims: dict[str, Any], reason: str
) -> None:
    assert str(refused(service, forge(claims=claims), Code.TOKEN_INVALID)) == reason


def test_an_expired_token_says_when_it_expired(forge: Forge, service: TokenService) -> None:
    error = refused(service, forge(), Code.TOKEN_EXPIRED, at=NOW + timedelta(hours=1))
    assert str(error) == "the token expired at 2026-11-26T12:15:00+00:00"


@pytest.mark.parametrize(
    ("raw_claims", "reason"),
    [
        ("e30xa", "the token's payload is not valid base64url"),
        ("e31", "the token's payload is not canonical base64url"),
        (b64("[1, 2]"), "the token's payload is not a JSON object"),
        (b64('{"iat": NaN}'), "the token's payload is not a well-formed JSON object"),
        (b64('{"iat": 1, "iat": 2}'), "the token's payload is not a well-formed JSON object"),
    ],
)
def test_a_payload_that_is_not_a_json_object_in_canonical_base64url_says_so(
    forge: Forge, service: TokenService, raw_claims: str, reason: str
) -> None:
    token = forge(raw_claims=raw_claims)
    assert str(refused(service, token, Code.TOKEN_INVALID)) == reason


def test_a_part_that_ends_in_any_base64url_character_round_trips() -> None:
    for data in (b"\x00\x00\x17", b"\xff\xff\xff", b"\x00\x00=", b"ab", b"a"):
        text = encode_part(data)
        assert "=" not in text
        assert decode_part(text, "payload") == data
    assert encode_part(b"\x00\x00\x17") == "AAAX"


def test_infinity_is_not_json_either() -> None:
    with pytest.raises(TokenInvalid):
        json_object(b'{"exp": Infinity}', "payload")


def test_a_dotted_credential_of_the_longest_token_length_is_read_as_a_token() -> None:
    dotted = "a" * (MAX_TOKEN_LENGTH - 4) + ".b.c"
    assert len(dotted) == MAX_TOKEN_LENGTH
    assert looks_like_jwt(dotted)
    assert looks_like_jwt(dotted + "c")
    assert not looks_like_jwt("a" * (MAX_TOKEN_LENGTH - 3) + ".b")
    assert not looks_like_jwt("a" * (MAX_TOKEN_LENGTH - 3) + "..c")
    assert looks_like_jwt("a" * (MAX_TOKEN_LENGTH - 2) + "..c")


@pytest.mark.parametrize(
    ("raw_header", "reason"),
    [
        ("e30xa", "the token's header is not valid base64url"),
        ("e31", "the token's header is not canonical base64url"),
        (b64("[1]"), "the token's header is not a JSON object"),
    ],
)
def test_a_header_that_is_not_a_json_object_in_canonical_base64url_says_so(
    forge: Forge, service: TokenService, raw_header: str, reason: str
) -> None:
    assert str(refused(service, forge(raw_header=raw_header), Code.TOKEN_INVALID)) == reason


def test_a_signature_that_is_not_canonical_base64url_says_so(
    forge: Forge, service: TokenService
) -> None:
    signing_input = forge().rsplit(".", 1)[0]
    error = refused(service, f"{signing_input}.e31", Code.TOKEN_INVALID)
    assert str(error) == "the token's signature is not canonical base64url"


def test_a_token_of_the_longest_length_is_read_and_one_character_more_is_not() -> None:
    longest = "a" * (MAX_TOKEN_LENGTH - 4) + ".b.c"
    with pytest.raises(TokenInvalid) as read:
        split_token(longest)
    assert str(read.value) == "the token's header is not a well-formed JSON object"
    with pytest.raises(TokenInvalid) as refused_at_once:
        split_token("a" + longest)
    assert str(refused_at_once.value) == f"the token is longer than {MAX_TOKEN_LENGTH} characters"
    with pytest.raises(TokenInvalid) as not_three:
        split_token("a.b")
    assert str(not_three.value) == "the token is not three base64url parts separated by dots"


def test_a_clock_without_a_timezone_is_refused(service: TokenService, token: str) -> None:
    with pytest.raises(InvalidValue) as refused_clock:
        service.verify(token, NOW.replace(tzinfo=None))
    assert str(refused_clock.value) == (
        "the instant must be a timezone-aware datetime, such as datetime.now(UTC)"
    )


def test_a_high_s_signature_is_refused_saying_so(service: TokenService, token: str) -> None:
    signing_input, signature = token.rsplit(".", 1)
    raw = base64.urlsafe_b64decode(signature + "==")
    high = raw[:32] + (P256_ORDER - int.from_bytes(raw[32:], "big")).to_bytes(32, "big")
    twin = f"{signing_input}.{encode_part(high)}"
    error = refused(service, twin, Code.TOKEN_INVALID)
    assert str(error) == "the token's signature is not in its low-s form (s <= n/2)"
