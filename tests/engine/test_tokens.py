"""Tokens through the engine: exchanged for a key, narrowed, and dead with their key."""

from __future__ import annotations

import base64
import json

import pytest
from conftest import Clock

from policyengine.decision import Code
from policyengine.engine import Engine
from policyengine.errors import KeyRequestError
from policyengine.request import Request

CLIENT = "203.0.113.9"


def call(engine: Engine, credential: str, method: str = "GET", path: str = "/v1/events") -> Code:
    return engine.check(Request(credential=credential, method=method, path=path, ip=CLIENT)).code


def test_a_token_carries_at_most_its_keys_scopes(engine: Engine) -> None:
    issued = engine.keys.create(type="write", label="w", environment="live", allowed_ips=[CLIENT])
    token = engine.tokens.issue(issued.secret, scopes=["events:read"], ttl="15m")
    assert call(engine, token) is Code.OK
    assert call(engine, token, "POST", "/v1/events") is Code.INSUFFICIENT_SCOPE
    assert call(engine, issued.secret, "POST", "/v1/events") is Code.OK
    with pytest.raises(KeyRequestError):
        engine.tokens.issue(issued.secret, scopes=["keys:admin"])


def test_a_token_dies_with_its_key(engine: Engine) -> None:
    issued = engine.keys.create(type="read-only", label="r", environment="live")
    token = engine.tokens.issue(issued.secret)
    assert call(engine, token) is Code.OK
    engine.keys.revoke(issued.key.id)
    assert call(engine, token) is Code.REVOKED
    with pytest.raises(KeyRequestError, match="revoked"):
        engine.tokens.issue(issued.secret)


def test_an_expired_token_is_refused(engine: Engine, clock: Clock) -> None:
    issued = engine.keys.create(type="read-only", label="r", environment="live")
    token = engine.tokens.issue(issued.secret, ttl="5m")
    clock.advance(300 + 6)  # past exp and the 5 s leeway
    decision = engine.check(Request(credential=token, method="GET", path="/v1/events", ip=CLIENT))
    assert (decision.code, decision.status) == (Code.TOKEN_EXPIRED, 401)


def _forged(token: str) -> str:
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["scope"] = "*"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{header}.{forged}.{signature}"


def test_a_tampered_token_is_invalid(engine: Engine) -> None:
    issued = engine.keys.create(type="read-only", label="r", environment="live")
    token = engine.tokens.issue(issued.secret)
    assert call(engine, _forged(token), "POST", "/v1/events") is Code.TOKEN_INVALID
    none_alg = base64.urlsafe_b64encode(b'{"alg":"none","typ":"at+jwt"}').rstrip(b"=").decode()
    assert call(engine, f"{none_alg}.{token.split('.')[1]}.") is Code.TOKEN_INVALID


def test_the_jwks_lists_public_keys_only(engine: Engine) -> None:
    document = engine.tokens.jwks()
    (key,) = document["keys"]
    assert key["kty"] == "EC"
    assert "d" not in key
    engine.tokens.rotate()
    assert len(engine.tokens.jwks()["keys"]) == 2


def test_tokens_from_another_engine_are_invalid(engine: Engine) -> None:
    with Engine.from_directory(
        engine.directory, environment="live", store="memory://", secret="t" * 32
    ) as other:
        issued = other.keys.create(type="read-only", label="r", environment="live")
        foreign = other.tokens.issue(issued.secret)
    assert call(engine, foreign) is Code.TOKEN_INVALID


def test_a_test_key_cannot_get_a_token_in_the_live_environment(engine: Engine) -> None:
    issued = engine.keys.create(type="read-only", label="t", environment="test")
    with pytest.raises(KeyRequestError, match="test key"):
        engine.tokens.issue(issued.secret)


def test_a_tokens_high_s_twin_is_invalid(engine: Engine) -> None:
    order = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
    issued = engine.keys.create(type="read-only", label="r", environment="live")
    token = engine.tokens.issue(issued.secret)
    signing_input, signature = token.rsplit(".", 1)
    raw = base64.urlsafe_b64decode(signature + "==")
    s = order - int.from_bytes(raw[32:], "big")
    spelled = base64.urlsafe_b64encode(raw[:32] + s.to_bytes(32, "big")).rstrip(b"=").decode()
    assert call(engine, token) is Code.OK
    assert call(engine, f"{signing_input}.{spelled}") is Code.TOKEN_INVALID
