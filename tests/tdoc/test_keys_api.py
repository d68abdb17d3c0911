"""``/v1/keys``: what ``engine.keys`` does, over HTTP, with the secret shown once."""

from __future__ import annotations

from fastapi.testclient import TestClient

from policyengine.engine import Engine

from .conftest import Keys, bearer


def test_a_created_key_answers_its_secret_once_and_works(
    client: TestClient, keys: Keys, engine: Engine
) -> None:
    response = client.post(
        "/v1/keys",
        json={
            "type": "scoped",
            "label": "CI trigger",
            "scopes": ["tasks:trigger"],
            "allowed_ips": ["127.0.0.1"],
            "expires_in": "30d",
            "metadata": {"team": "platform"},
        },
        headers=bearer(keys.admin),
    )
    assert response.status_code == 201
    created = response.json()
    secret, key = created["secret"], created["key"]
    assert secret.startswith("tdoc_test_")
    assert key["environment"] == "test"
    assert key["display"].endswith(secret[-4:])
    assert response.headers["Location"] == f"/v1/keys/{key['id']}"
    assert engine.keys.get(key["id"]).scopes == ("tasks:trigger",)
    for path in ("/v1/keys", f"/v1/keys/{key['id']}"):
        assert secret not in client.get(path, headers=bearer(keys.admin)).text
    # The new key works, and only for what it may do.
    assert client.get("/v1/events", headers=bearer(secret)).status_code == 403


def test_what_the_policies_refuse_is_a_400(client: TestClient, keys: Keys) -> None:
    for body, said in (
        ({"type": "scoped", "label": "x", "scopes": ["keys:admin"]}, "outside what key type"),
        ({"type": "read-onyl", "label": "x"}, "did you mean 'read-only'"),
        ({"type": "full-access", "label": "x", "expires_in": "365d"}, "(90 days)"),
    ):
        response = client.post("/v1/keys", json=body, headers=bearer(keys.admin))
        assert response.status_code == 400, body
        assert said in response.json()["error"]["message"]


def test_a_body_that_is_not_a_key_is_a_422(client: TestClient, keys: Keys) -> None:
    response = client.post(
        "/v1/keys", json={"label": "x", "scopes": "tasks:read"}, headers=bearer(keys.admin)
    )
    assert response.status_code == 422
    fields = {d["field"] for d in response.json()["error"]["details"]}
    assert fields == {"type", "scopes"}


def test_only_full_access_keys_manage_keys(client: TestClient, keys: Keys) -> None:
    for secret in (keys.writer, keys.reader, keys.scoped):
        assert client.get("/v1/keys", headers=bearer(secret)).status_code == 403
        response = client.post(
            "/v1/keys", json={"type": "read-only", "label": "x"}, headers=bearer(secret)
        )
        assert response.status_code == 403


def test_the_list_filters_and_pages(client: TestClient, keys: Keys) -> None:
    readers = client.get("/v1/keys", params={"type": "read-only"}, headers=bearer(keys.admin))
    assert [k["id"] for k in readers.json()["data"]] == [keys.ids["reader"]]
    labelled = client.get("/v1/keys", params={"label": "WRIT"}, headers=bearer(keys.admin))
    assert [k["label"] for k in labelled.json()["data"]] == ["writer"]
    seen, cursor = [], None
    while True:
        params = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        page = client.get("/v1/keys", params=params, headers=bearer(keys.admin)).json()
        seen += [k["id"] for k in page["data"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == sorted(keys.ids.values())
    bad = client.get("/v1/keys", params={"state": "asleep"}, headers=bearer(keys.admin))
    assert bad.status_code == 422


def test_rotation_answers_a_new_secret_and_the_old_one_works_through_the_grace(
    client: TestClient, keys: Keys
) -> None:
    old_id = keys.ids["reader"]
    response = client.post(
        f"/v1/keys/{old_id}/rotate", json={"grace": "1h"}, headers=bearer(keys.admin)
    )
    assert response.status_code == 201
    rotated = response.json()
    assert rotated["key"]["rotated_from"] == old_id
    assert client.get("/v1/events", headers=bearer(rotated["secret"])).status_code == 200
    assert client.get("/v1/events", headers=bearer(keys.reader)).status_code == 200
    old = client.get(f"/v1/keys/{old_id}", headers=bearer(keys.admin)).json()
    assert old["state"] == "rotated"
    assert old["rotated_to"] == rotated["key"]["id"]
    # Rotated once, it cannot be rotated again: that is a conflict with its state.
    again = client.post(f"/v1/keys/{old_id}/rotate", headers=bearer(keys.admin))
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "CONFLICT"


def test_a_revoked_key_is_refused_at_once(client: TestClient, keys: Keys) -> None:
    response = client.post(
        f"/v1/keys/{keys.ids['writer']}/revoke",
        json={"reason": "leaked in a log"},
        headers=bearer(keys.admin),
    )
    assert response.status_code == 200
    assert response.json()["state"] == "revoked"
    denied = client.get("/v1/events", headers=bearer(keys.writer))
    assert denied.status_code == 401
    assert denied.json()["error"]["code"] == "REVOKED"
    twice = client.post(f"/v1/keys/{keys.ids['writer']}/revoke", headers=bearer(keys.admin))
    assert twice.status_code == 200
    rotate = client.post(f"/v1/keys/{keys.ids['writer']}/rotate", headers=bearer(keys.admin))
    assert rotate.status_code == 409


def test_any_key_reads_its_own_record_and_no_other(client: TestClient, keys: Keys) -> None:
    own = client.get(f"/v1/keys/{keys.ids['scoped']}", headers=bearer(keys.scoped))
    assert own.status_code == 200
    assert own.json()["scopes"] == ["events:read"]
    other = client.get(f"/v1/keys/{keys.ids['reader']}", headers=bearer(keys.scoped))
    assert other.status_code == 403
    assert (
        client.post(
            f"/v1/keys/{keys.ids['scoped']}/revoke", headers=bearer(keys.scoped)
        ).status_code
        == 403
    )


def test_an_unknown_key_is_a_404_and_a_pasted_secret_is_not_echoed(
    client: TestClient, keys: Keys
) -> None:
    missing = client.get("/v1/keys/key_00000000000000000000", headers=bearer(keys.admin))
    assert missing.status_code == 404
    pasted = client.get(f"/v1/keys/{keys.reader}", headers=bearer(keys.admin))
    assert pasted.status_code == 400
    assert keys.reader not in pasted.text


def test_a_disabled_key_is_refused_until_it_is_enabled(client: TestClient, keys: Keys) -> None:
    path = f"/v1/keys/{keys.ids['reader']}"
    disabled = client.post(f"{path}/disable", headers=bearer(keys.admin))
    assert disabled.status_code == 200
    assert disabled.json()["state"] == "disabled"
    refused = client.get("/v1/events", headers=bearer(keys.reader))
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "DISABLED"
    enabled = client.post(f"{path}/enable", headers=bearer(keys.admin))
    assert enabled.json()["state"] == "active"
    assert client.get("/v1/events", headers=bearer(keys.reader)).status_code == 200
    client.post(f"{path}/revoke", headers=bearer(keys.admin))
    assert client.post(f"{path}/disable", headers=bearer(keys.admin)).status_code == 409


def test_a_test_server_neither_makes_nor_reaches_a_live_key(
    client: TestClient, keys: Keys, engine: Engine
) -> None:
    live = engine.keys.create(type="write", label="production", environment="live").key
    admin = bearer(keys.admin)
    made = client.post(
        "/v1/keys", json={"type": "write", "label": "x", "environment": "live"}, headers=admin
    )
    assert made.status_code == 400
    assert "test keys only" in made.json()["error"]["message"]
    listed = client.get("/v1/keys", params={"environment": "live"}, headers=admin)
    assert listed.status_code == 400
    every = client.get("/v1/keys", params={"limit": 100}, headers=admin).json()["data"]
    assert live.id not in {key["id"] for key in every}
    assert {key["environment"] for key in every} == {"test"}
    base = f"/v1/keys/{live.id}"
    for method, path in [
        ("GET", base),
        ("POST", f"{base}/rotate"),
        ("POST", f"{base}/disable"),
        ("POST", f"{base}/enable"),
        ("POST", f"{base}/revoke"),
        ("GET", f"{base}/activity"),
        ("GET", f"{base}/usage"),
        ("GET", f"{base}/alerts"),
    ]:
        response = client.request(method, path, headers=admin)
        assert response.status_code == 404, (method, path, response.text)
        assert response.json()["error"]["code"] == "RESOURCE_NOT_FOUND"
    after = engine.keys.get(live.id)
    assert (after.revoked_at, after.disabled, after.rotated_to, after.revision) == (
        None,
        False,
        None,
        live.revision,
    )
    assert len(engine.keys.list(environment="live")) == 1
