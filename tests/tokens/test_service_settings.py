"""A token service refuses settings and requests it cannot honour, each with a reason that
names the setting and what to give instead; durations hold to their exact edges."""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Any

import pytest

from policyengine.decision import Code
from policyengine.errors import ConfigError, KeyRequestError
from policyengine.tokens import TokenService
from policyengine.tokens.claims import TokenClaims
from policyengine.tokens.errors import TokenInvalid
from policyengine.tokens.keyring import SigningKeys
from policyengine.tokens.signing import P256_ORDER, is_low_s, low_s
from policyengine.units import MAX_DURATION_SECONDS

from .conftest import AUDIENCE, GRANTED, ISSUER, NOW, key_record, refused

A_NUMBER = "must be a duration such as 15m, or a number of seconds"


@pytest.mark.parametrize(
    ("settings", "reason"),
    [
        ({"issuer": ""}, "a token service needs an issuer: a non-empty string"),
        ({"audience": None}, "a token service needs an audience: a non-empty string"),
        ({"max_ttl": "soon"}, "invalid duration 'soon'"),
        ({"max_ttl": True}, f"max_ttl {A_NUMBER}"),
        ({"max_ttl": math.nan}, f"max_ttl {A_NUMBER}"),
        ({"max_ttl": -math.inf}, f"max_ttl {A_NUMBER}"),
        ({"max_ttl": math.inf}, f"max_ttl {A_NUMBER}"),
        ({"max_ttl": 0.5}, "max_ttl must be at least one second"),
        ({"leeway_seconds": -1}, "leeway_seconds must not be negative"),
        ({"leeway_seconds": MAX_DURATION_SECONDS + 1}, "leeway_seconds must be at most 100 years"),
        ({"cache_size": -1}, "cache_size must be a whole number, 0 or more"),
        ({"cache_size": True}, "cache_size must be a whole number, 0 or more"),
    ],
)
def test_a_setting_the_service_cannot_honour_is_a_config_error_naming_it(
    keys: SigningKeys, settings: dict[str, Any], reason: str
) -> None:
    arguments: dict[str, Any] = {"issuer": ISSUER, "audience": AUDIENCE, **settings}
    with pytest.raises(ConfigError) as refused_setting:
        TokenService(keys, **arguments)
    assert str(refused_setting.value).startswith(reason)


def test_by_default_tokens_live_an_hour_with_five_seconds_of_leeway(keys: SigningKeys) -> None:
    service = TokenService(keys, ISSUER, AUDIENCE)
    assert (service.max_ttl, service.retire_after) == (
        timedelta(hours=1),
        timedelta(hours=1, seconds=5),
    )


def test_the_longest_durations_are_allowed_to_the_second(keys: SigningKeys) -> None:
    service = TokenService(keys, ISSUER, AUDIENCE, max_ttl=1, leeway_seconds=MAX_DURATION_SECONDS)
    assert service.max_ttl == timedelta(seconds=1)
    assert service.retire_after == timedelta(seconds=1 + MAX_DURATION_SECONDS)


@pytest.mark.parametrize(
    ("ttl", "reason"),
    [
        (0.5, "a token's ttl must be at least one second"),
        (0, "a token's ttl must be at least one second"),
        ("forever", "invalid duration 'forever'"),
        ([], f"ttl {A_NUMBER}"),
        ("2h", "a token lives at most 1h; ask for a shorter ttl"),
    ],
)
def test_a_ttl_outside_one_second_to_max_ttl_is_refused_with_the_reason(
    service: TokenService, ttl: Any, reason: str
) -> None:
    with pytest.raises(KeyRequestError) as refused_request:
        service.issue(key_record(), GRANTED, None, ttl, NOW)
    assert str(refused_request.value).startswith(reason)


@pytest.mark.parametrize(
    ("ttl", "lives"), [(1, 1), (1.9, 1), ("1s", 1), ("1h", 3600), (3600, 3600)]
)
def test_a_ttl_from_one_second_to_max_ttl_is_granted_in_whole_seconds(
    service: TokenService, ttl: Any, lives: int
) -> None:
    claims = service.verify(service.issue(key_record(), GRANTED, None, ttl, NOW), NOW)
    assert claims.expires_at - claims.issued_at == timedelta(seconds=lives)


def test_a_publish_ahead_that_is_not_a_duration_is_refused(service: TokenService) -> None:
    with pytest.raises(KeyRequestError) as refused_request:
        service.rotate(NOW, publish_ahead=-5)
    assert str(refused_request.value) == "publish_ahead must not be negative"


def test_a_credential_that_is_not_text_is_an_invalid_token(service: TokenService) -> None:
    for credential in (None, ["a.b.c"], {"a": 1}, b"a.b.c"):
        with pytest.raises(TokenInvalid) as caught:
            service.verify(credential, NOW)  # type: ignore[arg-type]
        assert str(caught.value) == "the token is not text"


HALF = P256_ORDER // 2


def test_a_signature_whose_s_is_exactly_half_the_order_is_low_s() -> None:
    r = (1).to_bytes(32, "big")
    at_half = r + HALF.to_bytes(32, "big")
    above = r + (HALF + 1).to_bytes(32, "big")
    assert is_low_s(at_half)
    assert not is_low_s(above)
    assert low_s(at_half) == at_half
    assert low_s(above) == r + (P256_ORDER - HALF - 1).to_bytes(32, "big")
    assert is_low_s(low_s(above))


def test_a_verified_token_is_refused_once_its_signing_key_no_longer_verifies(
    keys: SigningKeys, service: TokenService
) -> None:
    token = service.issue(key_record(), GRANTED, None, "15m", NOW)
    first: TokenClaims = service.verify(token, NOW)
    assert service.verify(token, NOW) == first
    service.rotate(NOW)
    late = NOW + service.retire_after + timedelta(seconds=1)
    for _ in range(2):  # and again, once it has left the cache of verified tokens
        error = refused(service, token, Code.TOKEN_INVALID, late)
        assert str(error) == "the token was not signed by a current key of this service"


@pytest.mark.parametrize("cache_size", [0, 1, 2])
def test_tokens_verify_again_and_again_whatever_the_cache_holds(
    keys: SigningKeys, cache_size: int
) -> None:
    service = TokenService(keys, ISSUER, AUDIENCE, cache_size=cache_size)
    tokens = [service.issue(key_record(), GRANTED, None, "15m", NOW) for _ in range(3)]
    for _ in range(2):
        for token in tokens:
            assert service.verify(token, NOW).key_id == key_record().id
