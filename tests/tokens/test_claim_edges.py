"""The exact edges of a token's claims: an audience is equal or wrong (never a part of
ours), and the clock-skew leeway is allowed once, to the second, and no more."""

from __future__ import annotations

from datetime import timedelta

import pytest

from policyengine.decision import Code
from policyengine.tokens import TokenService

from .conftest import AUDIENCE, ISSUER, NOW, Forge, refused

INVALID = Code.TOKEN_INVALID
LEEWAY = 5  # the service fixture's leeway_seconds


@pytest.mark.parametrize(
    "aud",
    [
        AUDIENCE[:-1],  # ours, cut short
        AUDIENCE.removesuffix("/v1"),  # a prefix of ours
        AUDIENCE[1:],  # a suffix of ours
        "api.tdoc.example",  # somewhere inside ours
        AUDIENCE + "x",  # ours, extended
        AUDIENCE.upper(),
        f" {AUDIENCE}",
    ],
)
def test_an_audience_that_is_part_of_ours_is_refused(
    forge: Forge, service: TokenService, aud: str
) -> None:
    assert aud != AUDIENCE
    error = refused(service, forge(claims={"aud": aud}), INVALID)
    assert "aud" in str(error)


@pytest.mark.parametrize("iss", [ISSUER[:-1], ISSUER.removeprefix("https://"), ISSUER + "/"])
def test_an_issuer_that_is_part_of_ours_is_refused(
    forge: Forge, service: TokenService, iss: str
) -> None:
    error = refused(service, forge(claims={"iss": iss}), INVALID)
    assert "iss" in str(error)


@pytest.mark.parametrize("early", range(LEEWAY + 1, 3 * LEEWAY + 1))
def test_nbf_beyond_the_leeway_is_refused_to_the_second(
    forge: Forge, service: TokenService, early: int
) -> None:
    start = int(NOW.timestamp()) + early
    token = forge(claims={"nbf": start, "iat": int(NOW.timestamp()), "exp": start + 600})
    error = refused(service, token, INVALID)
    assert "nbf" in str(error)


@pytest.mark.parametrize("early", range(LEEWAY + 1))
def test_nbf_within_the_leeway_is_accepted_to_the_second(
    forge: Forge, service: TokenService, early: int
) -> None:
    start = int(NOW.timestamp()) + early
    token = forge(claims={"nbf": start, "iat": int(NOW.timestamp()), "exp": start + 600})
    assert service.verify(token, NOW).not_before.timestamp() == start


@pytest.mark.parametrize("early", [LEEWAY + 1, 2 * LEEWAY, 2 * LEEWAY + 1])
def test_iat_beyond_the_leeway_is_refused_to_the_second(
    forge: Forge, service: TokenService, early: int
) -> None:
    issued = int(NOW.timestamp()) + early
    token = forge(claims={"iat": issued, "nbf": int(NOW.timestamp()), "exp": issued + 600})
    error = refused(service, token, INVALID)
    assert "iat" in str(error)


def test_expiry_leeway_is_allowed_once(forge: Forge, service: TokenService) -> None:
    issued = int(NOW.timestamp())
    token = forge(claims={"exp": issued + 60})
    service.verify(token, NOW + timedelta(seconds=60 + LEEWAY - 1))
    for late in (LEEWAY, 2 * LEEWAY - 1):
        refused(service, token, Code.TOKEN_EXPIRED, at=NOW + timedelta(seconds=60 + late))
