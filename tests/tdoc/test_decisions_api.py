"""``/v1/decisions`` and ``/v1/explain`` over HTTP: a key reads the explained decisions on
its own requests and no other key's, and simulates a request without using anything."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi.testclient import TestClient

from policyengine.engine import Engine

from .conftest import EVENT, Keys, bearer, settled


def test_a_denial_is_explained_to_the_key_that_made_it(
    client: TestClient, keys: Keys, engine: Engine
) -> None:
    reader = bearer(keys.reader)
    denied = client.post("/v1/events", json=EVENT, headers={**reader, "X-Request-ID": "deny-1"})
    assert denied.status_code == 403
    settled(engine)
    answer = client.get("/v1/decisions/deny-1", headers=reader)
    assert answer.status_code == 200
    explained = answer.json()
    assert (explained["code"], explained["status"], explained["step"]) == (
        "INSUFFICIENT_SCOPE",
        403,
        "scope",
    )
    assert explained["key"] == {
        "id": keys.ids["reader"],
        "type": "read-only",
        "environment": "test",
    }
    assert explained["request"] == {"method": "POST", "path": "/v1/events", "ip": "127.0.0.1"}
    assert explained["simulated"] is False
    assert [s["step"] for s in explained["trace"]] == ["state", "environment", "ip", "scope"]
    assert explained["trace"][-1]["detail"] == "no scope of this read-only key grants events:write"


def test_an_allowed_call_names_the_rule_that_let_it_in_and_the_limits_left(
    client: TestClient, keys: Keys, engine: Engine
) -> None:
    reader = bearer(keys.reader)
    own = f"/v1/keys/{keys.ids['reader']}"
    assert client.get(own, headers={**reader, "X-Request-ID": "own-1"}).status_code == 200
    settled(engine)
    explained = client.get("/v1/decisions/own-1", headers=reader).json()
    assert explained["allowed"] is True
    assert explained["rule"] == {
        "name": "keys-read-themselves",
        "file": "policies/rules.yaml",
        "line": explained["rule"]["line"],
    }
    assert explained["rule"]["line"] > 1
    scope = next(s for s in explained["trace"] if s["step"] == "scope")
    assert "keys-read-themselves (policies/rules.yaml:" in scope["detail"]
    (limit,) = explained["limits"]
    assert (limit["name"], limit["limit"]) == ("default", 600)
    assert 0 < limit["remaining"] < 600


def test_another_keys_decision_is_not_found_even_for_an_admin(
    client: TestClient, keys: Keys, engine: Engine
) -> None:
    client.get("/v1/events", headers={**bearer(keys.reader), "X-Request-ID": "mine-1"})
    settled(engine)
    for other in (keys.writer, keys.admin):
        answer = client.get("/v1/decisions/mine-1", headers=bearer(other))
        assert answer.status_code == 404
        assert answer.json()["error"]["code"] == "RESOURCE_NOT_FOUND"
    never = client.get("/v1/decisions/never-was", headers=bearer(keys.reader))
    assert never.status_code == 404
    assert never.json()["error"]["message"] == answer.json()["error"]["message"].replace(
        "mine-1", "never-was"
    )


def test_the_list_holds_the_callers_own_decisions_newest_first_in_pages(
    client: TestClient, keys: Keys, engine: Engine
) -> None:
    writer = bearer(keys.writer)
    for n in range(3):
        client.get("/v1/events", headers={**writer, "X-Request-ID": f"w-{n}"})
    client.delete("/v1/events/evt_1", headers={**writer, "X-Request-ID": "w-del"})
    client.get("/v1/events", headers={**bearer(keys.reader), "X-Request-ID": "r-0"})
    settled(engine)
    # The listing requests are decisions of the writer's too, recorded as the writer thread
    # gets to them: the list is read up to an instant before the first of them.
    until = datetime.now(UTC).isoformat()
    first = client.get("/v1/decisions", params={"limit": 2, "until": until}, headers=writer)
    first = first.json()
    assert [d["request_id"] for d in first["data"]] == ["w-del", "w-2"]
    rest = client.get(
        "/v1/decisions",
        params={"limit": 10, "cursor": first["next_cursor"], "until": until},
        headers=writer,
    ).json()
    assert [d["request_id"] for d in rest["data"]] == ["w-1", "w-0"]
    assert rest["next_cursor"] is None
    denials = client.get(
        "/v1/decisions", params={"code": "INSUFFICIENT_SCOPE", "until": until}, headers=writer
    ).json()
    assert [d["request_id"] for d in denials["data"]] == ["w-del"]
    bad = client.get("/v1/decisions", params={"code": "NOPE"}, headers=writer)
    assert bad.status_code == 400


def test_simulating_explains_without_executing_or_recording(
    client: TestClient, keys: Keys, engine: Engine
) -> None:
    reader = bearer(keys.reader)
    asked = {"method": "POST", "path": "/v1/events?x=1", "ip": "198.51.100.4"}
    answer = client.post("/v1/explain", json=asked, headers=reader)
    assert answer.status_code == 200
    explained = answer.json()
    assert explained["simulated"] is True
    assert explained["request_id"] is None
    assert (explained["code"], explained["status"]) == ("INSUFFICIENT_SCOPE", 403)
    assert explained["request"] == {"method": "POST", "path": "/v1/events", "ip": "198.51.100.4"}
    allowed = client.post(
        "/v1/explain", json={"method": "GET", "path": "/v1/events"}, headers=reader
    )
    assert allowed.json()["allowed"] is True
    assert allowed.json()["rule"]["name"] == "the scopes of key type 'read-only'"
    assert allowed.json()["rule"]["file"] == "policies/key_types.yaml"
    assert allowed.json()["request"]["ip"] == "127.0.0.1"
    settled(engine)
    # Nothing was executed: no event exists; and only the explain calls were recorded.
    assert client.get("/v1/events", headers=reader).json()["data"] == []
    settled(engine)
    paths = [
        d["request"]["path"] for d in client.get("/v1/decisions", headers=reader).json()["data"]
    ]
    assert paths == ["/v1/events", "/v1/explain", "/v1/explain"]


def test_explaining_n_times_at_a_limit_of_n_leaves_every_request(
    client: TestClient, engine: Engine
) -> None:
    issued = engine.keys.create(
        type="read-only", label="three", environment="test", rate_limit="3/minute"
    )
    key = bearer(issued.secret)
    for _ in range(5):
        explained = client.post(
            "/v1/explain", json={"method": "GET", "path": "/v1/events"}, headers=key
        ).json()
        assert explained["allowed"] is True
        assert explained["limits"][0]["remaining"] == 3
        assert client.get("/v1/decisions", headers=key).status_code == 200
    statuses = [client.get("/v1/events", headers=key).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    over = client.post("/v1/explain", json={"method": "GET", "path": "/v1/events"}, headers=key)
    assert over.status_code == 429


def test_a_simulated_request_that_does_not_validate_is_refused(
    client: TestClient, keys: Keys
) -> None:
    reader = bearer(keys.reader)
    for body in (
        {"method": "BREW", "path": "/v1/events"},
        {"method": "GET"},
        {"method": "GET", "path": "/v1/events", "headers": {"bad name": "x"}},
        {"method": "GET", "path": "/v1/events", "extra": 1},
        {"method": "GET", "path": "/v1/events", "ip": "not-an-address"},
    ):
        answer = client.post("/v1/explain", json=body, headers=reader)
        assert answer.status_code == 422, body
        assert answer.json()["error"]["code"] == "INVALID_REQUEST"
    assert client.post("/v1/explain", json={"method": "GET", "path": "/"}).status_code == 401


def test_no_explanation_names_a_policy_file_by_the_servers_absolute_path(
    client: TestClient, keys: Keys, engine: Engine
) -> None:
    # The policies were loaded by their absolute path; every rule a trace mentions, not
    # only the one that decided, is named relative to the policies' parent folder.
    assert engine.directory is not None
    assert engine.directory.is_absolute()
    secret = str(engine.directory.parent)
    reader = bearer(keys.reader)
    own, other = (f"/v1/keys/{keys.ids[name]}" for name in ("reader", "writer"))
    assert client.get(own, headers={**reader, "X-Request-ID": "own-2"}).status_code == 200
    simulated = client.post("/v1/explain", json={"method": "GET", "path": other}, headers=reader)
    assert simulated.status_code == 200
    rules = next(s for s in simulated.json()["trace"] if s["step"] == "rules")
    assert "keys-read-themselves (policies/rules.yaml:" in rules["detail"]
    settled(engine)
    activity = client.get(f"{own}/activity", headers=reader)
    assert activity.status_code == 200
    entry = next(e for e in activity.json()["data"] if e.get("request_id") == "own-2")
    assert entry["rule_location"].startswith("policies/rules.yaml:")
    for answer in (simulated, activity, client.get("/v1/decisions", headers=reader)):
        assert secret not in answer.text
