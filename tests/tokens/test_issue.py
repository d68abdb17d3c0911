"""Exchanging a key for a token: what the token says, which scopes it may carry, how long
it may live, and the requests that are refused."""

from __future__ import annotations

import logging
import math
from datetime import timedelta

import jwt
import pytest

from policyengine.errors import ConfigError, InvalidValue, KeyRequestError, TokenError
from policyengine.tokens import SigningKeys, TokenService

from .conftest import AUDIENCE, GRANTED, ISSUER, NOW, key_record, parts


def test_round_trip_gives_back_the_key_scopes_and_times(
    service: TokenService, keys: SigningKeys
) -> None:
    token = service.issue(key_record(), GRANTED, ["events:read"], "15m", NOW)
    claims = service.verify(token, NOW + timedelta(minutes=1))
    assert claims.key_id == key_record().id
    assert claims.scopes == ("events:read",)
    assert claims.environment == "live"
    assert claims.issued_at == claims.not_before == NOW
    assert claims.expires_at == NOW + timedelta(minutes=15)
    assert claims.kid == keys.signer(NOW).kid
    assert len(claims.jti) >= 16


def test_token_header_and_claims_are_rfc_9068_shaped(service: TokenService) -> None:
    token = service.issue(key_record(environment="test"), GRANTED, None, 600, NOW)
    header, claims, _ = parts(token)
    assert header == {"alg": "ES256", "typ": "at+jwt", "kid": header["kid"]}
    issued = int(NOW.timestamp())
    assert claims == {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": key_record().id,
        "iat": issued,
        "nbf": issued,
        "exp": issued + 600,
        "jti": claims["jti"],
        "scope": "events:* tasks:read hooks:read",
        "env": "test",
    }


def test_every_token_gets_its_own_jti(service: TokenService) -> None:
    tokens = [service.issue(key_record(), GRANTED, None, "1m", NOW) for _ in range(20)]
    assert len({parts(token)[1]["jti"] for token in tokens}) == 20


def test_a_standard_jwt_library_verifies_our_token_with_our_jwks(service: TokenService) -> None:
    token = service.issue(key_record(), GRANTED, ["tasks:read"], "15m", NOW)
    published = jwt.PyJWK(service.jwks(NOW)["keys"][0])
    claims = jwt.decode(
        token,
        published,
        algorithms=["ES256"],
        audience=AUDIENCE,
        issuer=ISSUER,
        options={"verify_exp": False, "verify_iat": False, "verify_nbf": False},
    )
    assert claims["scope"] == "tasks:read"


# --- scopes ---------------------------------------------------------------------------------


def test_scopes_default_to_all_granted(service: TokenService) -> None:
    token = service.issue(key_record(), GRANTED, None, "15m", NOW)
    assert service.verify(token, NOW).scopes == GRANTED


@pytest.mark.parametrize(
    ("granted", "requested"),
    [
        (["events:*"], ["events:read"]),
        (["events:*"], ["events:read", "events:write", "events/evt_42:delete"]),
        (["*"], ["keys:admin", "hooks/hk_1:write"]),
        (["events:read"], ["events/evt_42:read"]),
        (["events:read", "tasks:*"], ["tasks:trigger"]),
    ],
)
def test_requested_scopes_within_granted_are_carried(
    service: TokenService, granted: list[str], requested: list[str]
) -> None:
    token = service.issue(key_record(), granted, requested, "15m", NOW)
    assert service.verify(token, NOW).scopes == tuple(requested)


@pytest.mark.parametrize(
    ("granted", "requested"),
    [
        (["events:read"], ["events:write"]),
        (["events:read"], ["events:*"]),
        (["events:read"], ["*"]),
        (["events/evt_42:read"], ["events:read"]),
        (["events/evt_42:read"], ["events/evt_43:read"]),
        (["tasks:*"], ["tasks:read", "keys:admin"]),
    ],
)
def test_a_scope_beyond_the_keys_is_refused(
    service: TokenService, granted: list[str], requested: list[str]
) -> None:
    with pytest.raises(KeyRequestError, match="at most its key's scopes"):
        service.issue(key_record(), granted, requested, "15m", NOW)


def test_repeated_and_equivalent_scopes_are_written_once(service: TokenService) -> None:
    requested = ["events:read", "events/*:read", "events:read"]
    token = service.issue(key_record(), ["events:*"], requested, "15m", NOW)
    assert parts(token)[1]["scope"] == "events:read"


@pytest.mark.parametrize("requested", ["events:read", [], ["events"], ["events:read", 7]])
def test_a_malformed_scope_request_is_refused(service: TokenService, requested: object) -> None:
    with pytest.raises(KeyRequestError):
        service.issue(key_record(), GRANTED, requested, "15m", NOW)  # type: ignore[arg-type]


def test_a_key_without_scopes_gets_no_token(service: TokenService) -> None:
    with pytest.raises(KeyRequestError, match="no scopes"):
        service.issue(key_record(), [], None, "15m", NOW)


# --- lifetime -------------------------------------------------------------------------------


@pytest.mark.parametrize("ttl", ["15m", 900, 900.0, "900s", "14m60s"])
def test_ttl_as_duration_or_seconds(service: TokenService, ttl: str | float) -> None:
    token = service.issue(key_record(), GRANTED, None, ttl, NOW)
    assert service.verify(token, NOW).expires_at == NOW + timedelta(minutes=15)


def test_ttl_up_to_max_ttl_is_allowed(service: TokenService) -> None:
    token = service.issue(key_record(), GRANTED, None, "1h", NOW)
    assert service.verify(token, NOW).expires_at == NOW + timedelta(hours=1)


@pytest.mark.parametrize("ttl", ["61m", "2h", 3601, "1d"])
def test_ttl_beyond_max_ttl_is_refused(service: TokenService, ttl: str | float) -> None:
    with pytest.raises(KeyRequestError, match="at most 1h"):
        service.issue(key_record(), GRANTED, None, ttl, NOW)


@pytest.mark.parametrize("ttl", [0, "0s", -60, 0.5, "500ms", "soon", "", True, math.nan, None])
def test_ttl_that_is_not_a_positive_duration_is_refused(service: TokenService, ttl: object) -> None:
    with pytest.raises(KeyRequestError):
        service.issue(key_record(), GRANTED, None, ttl, NOW)  # type: ignore[arg-type]


def test_fractional_seconds_are_rounded_down(service: TokenService) -> None:
    token = service.issue(key_record(), GRANTED, None, 90.9, NOW + timedelta(seconds=0.7))
    claims = service.verify(token, NOW)
    assert claims.issued_at == NOW
    assert claims.expires_at == NOW + timedelta(seconds=90)


def test_token_does_not_outlive_its_key(service: TokenService) -> None:
    key = key_record(expires_at=NOW + timedelta(minutes=5))
    token = service.issue(key, GRANTED, None, "1h", NOW)
    assert service.verify(token, NOW).expires_at == NOW + timedelta(minutes=5)


def test_token_does_not_outlive_a_rotated_keys_grace(service: TokenService) -> None:
    key = key_record(rotated_to="key_new", grace_until=NOW + timedelta(minutes=2))
    token = service.issue(key, GRANTED, None, "1h", NOW)
    assert service.verify(token, NOW).expires_at == NOW + timedelta(minutes=2)


def test_a_key_expiring_now_gets_no_token(service: TokenService) -> None:
    with pytest.raises(KeyRequestError, match="expires now"):
        service.issue(key_record(expires_at=NOW), GRANTED, None, "1h", NOW)


def test_a_naive_instant_is_refused(service: TokenService, token: str) -> None:
    with pytest.raises(InvalidValue, match="timezone"):
        service.verify(token, NOW.replace(tzinfo=None))
    with pytest.raises(InvalidValue, match="timezone"):
        service.issue(key_record(), GRANTED, None, "1m", NOW.replace(tzinfo=None))


# --- configuration --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "settings",
    [
        {"issuer": ""},
        {"audience": ""},
        {"max_ttl": "forever"},
        {"max_ttl": 0},
        {"max_ttl": "500ms"},
        {"leeway_seconds": -1},
        {"leeway_seconds": math.inf},
        {"cache_size": -1},
    ],
)
def test_unworkable_configuration_is_refused(
    keys: SigningKeys, settings: dict[str, object]
) -> None:
    arguments: dict[str, object] = {"issuer": ISSUER, "audience": AUDIENCE, **settings}
    with pytest.raises(ConfigError):
        TokenService(keys, **arguments)  # type: ignore[arg-type]


def test_max_ttl_sets_the_longest_token(keys: SigningKeys) -> None:
    service = TokenService(keys, ISSUER, AUDIENCE, max_ttl="5m")
    service.issue(key_record(), GRANTED, None, "5m", NOW)
    with pytest.raises(KeyRequestError, match="at most 5m"):
        service.issue(key_record(), GRANTED, None, "6m", NOW)


def test_tokens_and_private_keys_never_reach_logs_messages_or_reprs(
    service: TokenService, keys: SigningKeys, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    token = service.issue(key_record(), GRANTED, None, "15m", NOW)
    shown = [repr(service.verify(token, NOW)), repr(service), repr(keys), repr(keys.signer(NOW))]
    for bad in (token + "x", token[:-2], token.replace(".", ".x", 1)):
        with pytest.raises(TokenError) as caught:
            service.verify(bad, NOW)
        shown.append(str(caught.value))
    private = keys.signer(NOW).to_record()["jwk"]["d"]
    text = caplog.text + "\n".join(shown)
    for secret in (token, *token.split("."), private):
        assert secret not in text
