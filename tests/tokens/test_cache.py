"""The token caches: a token seen before is judged without a signature check, and the
answer is always the one a service without caches gives."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from policyengine.decision import Code
from policyengine.errors import TokenError
from policyengine.tokens import SigningKeys, TokenService

from .conftest import AUDIENCE, GRANTED, ISSUER, NOW, key_record, refused


def _tampered(token: str) -> str:
    head, body, signature = token.split(".")
    middle = len(signature) // 2
    swapped = "A" if signature[middle] != "A" else "B"
    return f"{head}.{body}.{signature[:middle]}{swapped}{signature[middle + 1 :]}"


class _Counting:
    """The service's signature algorithm, counting the signatures it checks."""

    def __init__(self, algorithm: Any) -> None:
        self.algorithm = algorithm
        self.checked = 0

    def verify(self, *args: Any) -> bool:
        self.checked += 1
        return bool(self.algorithm.verify(*args))


def _counting(service: TokenService) -> _Counting:
    counting = _Counting(service._algorithm)
    service._algorithm = counting  # type: ignore[assignment]
    return counting


def test_a_forgery_sent_again_is_refused_again_without_a_signature_check(
    service: TokenService, token: str
) -> None:
    counting = _counting(service)
    forged = _tampered(token)
    first = refused(service, forged, Code.TOKEN_INVALID)
    again = refused(service, forged, Code.TOKEN_INVALID)
    assert str(again) == str(first) == "the token's signature does not verify"
    assert counting.checked == 1
    assert service.verify(token, NOW).key_id == key_record().id


def test_a_remembered_forgery_follows_its_keys_retirement(
    service: TokenService, keys: SigningKeys, token: str
) -> None:
    forged = _tampered(token)
    refused(service, forged, Code.TOKEN_INVALID)
    old_kid = keys.signer(NOW).kid
    service.rotate(NOW)
    keys.retire(old_kid, NOW)
    error = refused(service, forged, Code.TOKEN_INVALID)
    assert str(error) == "the token was not signed by a current key of this service"


def test_a_replay_past_a_tokens_expiry_does_not_make_it_verify_again_today(
    service: TokenService, token: str
) -> None:
    counting = _counting(service)
    assert service.verify(token, NOW)
    later = NOW + timedelta(hours=2)
    refused(service, token, Code.TOKEN_EXPIRED, at=later)
    refused(service, token, Code.TOKEN_EXPIRED, at=later)
    assert service.verify(token, NOW)
    assert counting.checked == 1


def test_an_expired_token_seen_first_is_refused_again_without_a_signature_check(
    service: TokenService,
) -> None:
    counting = _counting(service)
    old = service.issue(key_record(), GRANTED, None, "15m", NOW - timedelta(hours=1))
    refused(service, old, Code.TOKEN_EXPIRED)
    refused(service, old, Code.TOKEN_EXPIRED)
    assert counting.checked == 1


def test_without_a_cache_every_use_checks_the_signature(keys: SigningKeys, token: str) -> None:
    service = TokenService(keys, ISSUER, AUDIENCE, max_ttl="1h", cache_size=0)
    counting = _counting(service)
    forged = _tampered(token)
    for _ in range(2):
        refused(service, forged, Code.TOKEN_INVALID)
        assert service.verify(token, NOW)
    assert counting.checked == 4


def _outcome(service: TokenService, token: str, minutes: int) -> object:
    try:
        return service.verify(token, NOW + timedelta(minutes=minutes))
    except TokenError as error:
        return (type(error), str(error))


@settings(max_examples=40, deadline=None)
@given(
    uses=st.lists(
        st.tuples(st.integers(0, 5), st.integers(-90, 90), st.booleans()), min_size=1, max_size=12
    )
)
def test_cached_answers_are_the_answers_of_a_service_without_caches(
    uses: list[tuple[int, int, bool]],
) -> None:
    keys = SigningKeys(now=NOW - timedelta(days=1))
    cached = TokenService(keys, ISSUER, AUDIENCE, max_ttl="1h", cache_size=3)
    plain = TokenService(keys, ISSUER, AUDIENCE, max_ttl="1h", cache_size=0)
    good = cached.issue(key_record(), GRANTED, None, "15m", NOW)
    early = cached.issue(key_record(), GRANTED, None, "15m", NOW + timedelta(minutes=30))
    old = cached.issue(key_record(), GRANTED, None, "15m", NOW - timedelta(minutes=40))
    tokens = [good, early, old, _tampered(good), _tampered(early), _tampered(old)]
    for which, minutes, refresh in uses:
        if refresh:
            keys.refresh()
        token = tokens[which]
        assert _outcome(cached, token, minutes) == _outcome(plain, token, minutes)


def test_two_refusals_of_one_cached_token_at_once_both_say_its_key_is_gone(
    service: TokenService, keys: SigningKeys, token: str
) -> None:
    accepted = service.verify(token, NOW)
    old_kid = keys.signer(NOW).kid
    service.rotate(NOW)
    keys.retire(old_kid, NOW)
    # Another thread refuses the same cached token between this one's key check and its
    # dropping of the entry: both refusals must be the token's, not a cache error.
    inner: list[TokenError] = []
    real = keys.verifying_key
    raced = [False]

    def racing(kid: str, now: Any) -> Any:
        key = real(kid, now)
        if kid == accepted.kid and not raced[0]:
            raced[0] = True
            inner.append(refused(service, token, Code.TOKEN_INVALID))
        return key

    keys.verifying_key = racing  # type: ignore[method-assign]
    outer = refused(service, token, Code.TOKEN_INVALID)
    expected = "the token was not signed by a current key of this service"
    assert [str(error) for error in inner] == [str(outer)] == [expected]


def test_a_remembered_forgery_under_a_retiring_key_is_judged_at_the_time_given(
    service: TokenService, token: str
) -> None:
    forged = _tampered(token)
    service.rotate(NOW)  # the key that signed ``token`` now verifies until it retires
    first = refused(service, forged, Code.TOKEN_INVALID)
    again = refused(service, forged, Code.TOKEN_INVALID)
    assert str(again) == str(first) == "the token's signature does not verify"
    retired = refused(service, forged, Code.TOKEN_INVALID, at=NOW + timedelta(hours=2))
    assert str(retired) == "the token was not signed by a current key of this service"
