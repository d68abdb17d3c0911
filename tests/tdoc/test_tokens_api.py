"""``/v1/auth/token`` and the JWKS: a key exchanged for a token that does no more."""

from __future__ import annotations

import jwt
from fastapi.testclient import TestClient

from .conftest import EVENT, Keys, bearer


def test_a_token_carries_the_scopes_asked_for_and_no_more(client: TestClient, keys: Keys) -> None:
    response = client.post(
        "/v1/auth/token", json={"scopes": ["events:read"], "ttl": "5m"}, headers=bearer(keys.writer)
    )
    assert response.status_code == 200
    token = response.json()
    assert token["token_type"] == "Bearer"
    assert token["scope"] == "events:read"
    assert token["expires_in"] == 300
    assert client.get("/v1/events", headers=bearer(token["access_token"])).status_code == 200
    write = client.post("/v1/events", json=EVENT, headers=bearer(token["access_token"]))
    assert write.status_code == 403
    assert write.json()["error"]["code"] == "INSUFFICIENT_SCOPE"


def test_a_token_cannot_widen_its_key_nor_outlive_the_limit(client: TestClient, keys: Keys) -> None:
    wider = client.post(
        "/v1/auth/token", json={"scopes": ["keys:admin"]}, headers=bearer(keys.reader)
    )
    assert wider.status_code == 400
    longer = client.post("/v1/auth/token", json={"ttl": "2h"}, headers=bearer(keys.reader))
    assert longer.status_code == 400
    assert "at most" in longer.json()["error"]["message"]


def test_a_token_is_not_exchanged_for_another(client: TestClient, keys: Keys) -> None:
    token = client.post("/v1/auth/token", headers=bearer(keys.reader)).json()["access_token"]
    response = client.post("/v1/auth/token", headers=bearer(token))
    assert response.status_code == 400


def test_the_jwks_verifies_the_tokens(client: TestClient, keys: Keys) -> None:
    token = client.post("/v1/auth/token", headers=bearer(keys.reader)).json()["access_token"]
    jwks = client.get("/.well-known/jwks.json").json()
    kid = jwt.get_unverified_header(token)["kid"]
    (jwk,) = [k for k in jwks["keys"] if k["kid"] == kid]
    public = jwt.PyJWK(jwk).key
    claims = jwt.decode(token, public, algorithms=["ES256"], audience="policyengine")
    assert claims["sub"] == keys.ids["reader"]
    assert "d" not in jwk


def test_a_token_dies_with_its_key(client: TestClient, keys: Keys) -> None:
    token = client.post("/v1/auth/token", headers=bearer(keys.reader)).json()["access_token"]
    client.post(f"/v1/keys/{keys.ids['reader']}/revoke", headers=bearer(keys.admin))
    response = client.get("/v1/events", headers=bearer(token))
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "REVOKED"


def test_a_token_reads_nothing_of_its_key_beyond_its_scopes(client: TestClient, keys: Keys) -> None:
    own = f"/v1/keys/{keys.ids['writer']}"
    token = client.post(
        "/v1/auth/token", json={"scopes": ["events:read"]}, headers=bearer(keys.writer)
    ).json()["access_token"]
    for path in (own, f"{own}/activity", f"{own}/usage", f"{own}/alerts"):
        refused = client.get(path, headers=bearer(token))
        assert refused.status_code == 403, (path, refused.text)
        assert refused.json()["error"]["code"] == "INSUFFICIENT_SCOPE"
        assert client.get(path, headers=bearer(keys.writer)).status_code == 200
