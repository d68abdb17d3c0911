"""Signing key rotation: old tokens live out their lives, retired keys verify nothing,
and the JWKS lists exactly the public keys that verify."""

from __future__ import annotations

from datetime import timedelta

import pytest

from policyengine.decision import Code
from policyengine.errors import ConfigError, KeyRequestError
from policyengine.tokens import MemoryKeyStore, SigningKey, SigningKeys, TokenService
from policyengine.tokens.signing import KID_PATTERN

from .conftest import AUDIENCE, GRANTED, ISSUER, NOW, key_record, parts, refused

LATER = NOW + timedelta(minutes=10)


def test_token_signed_by_the_previous_key_verifies_after_one_rotation(
    service: TokenService, token: str
) -> None:
    old_kid = parts(token)[0]["kid"]
    new_kid = service.rotate(LATER)
    assert new_kid != old_kid
    assert service.verify(token, LATER).kid == old_kid
    fresh = service.issue(key_record(), GRANTED, None, "15m", LATER)
    assert parts(fresh)[0]["kid"] == new_kid
    assert service.verify(fresh, LATER).kid == new_kid


def test_previous_key_retires_after_the_longest_token_lifetime(
    service: TokenService, keys: SigningKeys, token: str
) -> None:
    old_kid = parts(token)[0]["kid"]
    service.rotate(LATER)
    retirement = LATER + timedelta(hours=1, seconds=5)  # max_ttl + leeway
    assert old_kid in kids_of(service.jwks(retirement - timedelta(seconds=1)))
    assert old_kid not in kids_of(service.jwks(retirement))
    error = refused(service, token, Code.TOKEN_INVALID, at=retirement)
    assert "key" in str(error)
    service.rotate(retirement)
    assert old_kid not in keys.kids


def test_a_token_issued_just_before_rotation_lives_out_its_life(service: TokenService) -> None:
    token = service.issue(key_record(), GRANTED, None, "1h", LATER)
    service.rotate(LATER)
    service.verify(token, LATER + timedelta(hours=1, seconds=4))


def test_explicitly_retired_key_verifies_nothing_at_once(
    service: TokenService, keys: SigningKeys, token: str
) -> None:
    old_kid = parts(token)[0]["kid"]
    assert service.verify(token, NOW)  # and remembered as verified
    service.rotate(NOW)
    keys.retire(old_kid, NOW)
    refused(service, token, Code.TOKEN_INVALID)
    assert old_kid not in kids_of(service.jwks(NOW))


def test_the_signing_key_cannot_be_retired(service: TokenService, keys: SigningKeys) -> None:
    with pytest.raises(KeyRequestError, match="rotate first"):
        keys.retire(keys.signer(NOW).kid, NOW)
    with pytest.raises(KeyRequestError, match="no signing key"):
        keys.retire("Zz9_Zz9-Zz9_Zz9-", NOW)


def test_at_most_max_keys_are_kept() -> None:
    service = TokenService(SigningKeys(MemoryKeyStore(), max_keys=3, now=NOW), ISSUER, AUDIENCE)
    tokens = []
    for minute in range(6):
        moment = NOW + timedelta(minutes=minute)
        tokens.append(service.issue(key_record(), GRANTED, None, "1h", moment))
        service.rotate(moment)
    assert len(service.jwks(LATER)["keys"]) == 3
    service.verify(tokens[-1], LATER)
    service.verify(tokens[-2], LATER)
    refused(service, tokens[-3], Code.TOKEN_INVALID, at=LATER)


def test_a_key_published_ahead_verifies_before_it_signs(service: TokenService) -> None:
    before = service.issue(key_record(), GRANTED, None, "15m", NOW)
    new_kid = service.rotate(NOW, publish_ahead="10m")
    assert new_kid in kids_of(service.jwks(NOW))
    during = service.issue(key_record(), GRANTED, None, "15m", NOW + timedelta(minutes=9))
    assert parts(during)[0]["kid"] == parts(before)[0]["kid"]
    after = service.issue(key_record(), GRANTED, None, "15m", NOW + timedelta(minutes=10))
    assert parts(after)[0]["kid"] == new_kid
    service.verify(during, NOW + timedelta(minutes=10))


def test_jwks_holds_only_public_members_of_current_and_previous_keys(
    service: TokenService, keys: SigningKeys
) -> None:
    first = keys.signer(NOW).kid
    second = service.rotate(NOW)
    document = service.jwks(NOW)
    assert list(document) == ["keys"]
    assert kids_of(document) == [second, first]
    for jwk in document["keys"]:
        assert set(jwk) == {"kty", "crv", "x", "y", "kid", "use", "alg"}
        assert (jwk["kty"], jwk["crv"], jwk["use"], jwk["alg"]) == ("EC", "P-256", "sig", "ES256")
        assert len(jwk["x"]) == len(jwk["y"]) == 43  # 32 bytes, unpadded base64url
    private = {key.to_record()["jwk"]["d"] for key in (keys.signer(NOW),)}
    assert not any(d in str(document) for d in private)


def test_kids_are_random_url_safe_and_of_fixed_length() -> None:
    kids = {SigningKey.generate(NOW).kid for _ in range(50)}
    assert len(kids) == 50
    assert all(KID_PATTERN.fullmatch(kid) and len(kid) == 16 for kid in kids)


def test_two_services_on_one_memory_store_share_keys() -> None:
    store = MemoryKeyStore()
    one = TokenService(SigningKeys(store, now=NOW), ISSUER, AUDIENCE)
    two = TokenService(SigningKeys(store, now=NOW), ISSUER, AUDIENCE)
    token = one.issue(key_record(), GRANTED, None, "15m", NOW)
    assert two.verify(token, NOW).key_id == key_record().id
    one.rotate(NOW)
    fresh = one.issue(key_record(), GRANTED, None, "15m", NOW)
    assert two.verify(fresh, NOW).kid == parts(fresh)[0]["kid"]


@pytest.mark.parametrize("settings", [{"max_keys": 1}, {"refresh_interval": -1}])
def test_unworkable_key_set_configuration_is_refused(settings: dict[str, int]) -> None:
    with pytest.raises(ConfigError):
        SigningKeys(**settings)  # type: ignore[arg-type]


def test_rotation_with_negative_times_is_refused(service: TokenService, keys: SigningKeys) -> None:
    with pytest.raises(KeyRequestError):
        service.rotate(NOW, publish_ahead=-1)
    with pytest.raises(KeyRequestError):
        keys.rotate(NOW, retire_after=timedelta(seconds=-1))


def kids_of(document: dict[str, list[dict[str, str]]]) -> list[str]:
    return [jwk["kid"] for jwk in document["keys"]]
