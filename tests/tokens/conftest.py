"""Fixtures for the token tests: a fixed clock, a key, a service, and a forger.

The forger builds tokens by hand, as an attacker would, so that each attack test says
exactly which bytes it sends.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from jwt.algorithms import ECAlgorithm

from policyengine.decision import Code
from policyengine.errors import TokenError
from policyengine.record import KeyRecord
from policyengine.tokens import SigningKeys, TokenClaims, TokenService, decision_code

#: A Thursday noon, UTC; every test runs at or around it.
NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
ISSUER = "https://api.tdoc.example"
AUDIENCE = "https://api.tdoc.example/v1"
GRANTED = ("events:*", "tasks:read", "hooks:read")
#: The order of P-256's base point: (r, s) and (r, n - s) both verify, for any message.
P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


def b64(data: bytes | str | Mapping[str, Any]) -> str:
    """Unpadded base64url of bytes, text, or a JSON object (compactly written)."""
    if isinstance(data, Mapping):
        data = json.dumps(data, separators=(",", ":"))
    if isinstance(data, str):
        data = data.encode()
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def parts(token: str) -> tuple[dict[str, Any], dict[str, Any], str]:
    """The decoded header and claims of a token, and its signature part as sent."""
    header, payload, signature = token.split(".")
    return json.loads(unb64(header)), json.loads(unb64(payload)), signature


def key_record(**changes: Any) -> KeyRecord:
    fields: dict[str, Any] = {
        "id": "key_4fQx8ZkT1mWc2yBn7LsP",
        "type": "scoped",
        "label": "CI trigger",
        "environment": "live",
        "prefix": "tdoc_live_",
        "last4": "Xy12",
        "created_at": NOW - timedelta(days=10),
        "scopes": GRANTED,
    }
    fields.update(changes)
    return KeyRecord(**fields)


@pytest.fixture
def keys() -> SigningKeys:
    return SigningKeys(now=NOW - timedelta(days=1))


@pytest.fixture
def service(keys: SigningKeys) -> TokenService:
    return TokenService(keys, ISSUER, AUDIENCE, max_ttl="1h", leeway_seconds=5)


@pytest.fixture
def token(service: TokenService) -> str:
    """A good token: all of ``GRANTED``, for 15 minutes from ``NOW``."""
    return service.issue(key_record(), GRANTED, None, "15m", NOW)


Forge = Callable[..., str]


@pytest.fixture
def forge(keys: SigningKeys) -> Forge:
    """``forge(header_changes, claim_changes)``: a token signed by the service's own
    current key, with header members and claims set (or, given ``None``, removed)."""

    def build(
        header: Mapping[str, Any] | None = None,
        claims: Mapping[str, Any] | None = None,
        *,
        raw_header: str | None = None,
        raw_claims: str | None = None,
    ) -> str:
        signer = keys.signer(NOW)
        head = _changed({"alg": "ES256", "kid": signer.kid, "typ": "at+jwt"}, header)
        body = _changed(good_claims(), claims)
        signing_input = f"{raw_header or b64(head)}.{raw_claims or b64(body)}"
        signature = ECAlgorithm(ECAlgorithm.SHA256).sign(signing_input.encode(), signer.private_key)
        # The service accepts only low-s signatures, and a forger holding the key can write them.
        s = int.from_bytes(signature[32:], "big")
        if s > P256_ORDER // 2:
            signature = signature[:32] + (P256_ORDER - s).to_bytes(32, "big")
        return f"{signing_input}.{b64(signature)}"

    return build


def good_claims() -> dict[str, Any]:
    issued = int(NOW.timestamp())
    return {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": key_record().id,
        "iat": issued,
        "nbf": issued,
        "exp": issued + 900,
        "jti": "8bX2mQ0sV4nR7tY1wZ3cEg",
        "scope": "events:read",
        "env": "live",
    }


def _changed(base: dict[str, Any], changes: Mapping[str, Any] | None) -> dict[str, Any]:
    result = dict(base)
    for name, value in (changes or {}).items():
        if value is None:
            result.pop(name, None)
        else:
            result[name] = value
    return result


def refused(service: TokenService, token: str, code: Code, at: datetime = NOW) -> TokenError:
    """Assert that ``token`` is refused at ``at`` with ``code``, for a reason that
    repeats no part of the token; return the error."""
    with pytest.raises(TokenError) as caught:
        service.verify(token, at)
    error = caught.value
    assert decision_code(error) is code, str(error)
    message = str(error)
    assert message
    for part in token.split("."):
        assert len(part) < 8 or part not in message
    return error


def accepted(service: TokenService, token: str, at: datetime = NOW) -> TokenClaims:
    return service.verify(token, at)
