"""What monitoring knows of a key, over the API: its activity explained, its usage, its
alerts; key changes done as ``key:<id>``; and every hook's delivery log."""

from __future__ import annotations

import time
from typing import Any

from fastapi.testclient import TestClient

from policyengine.engine import Engine

from .conftest import EVENT, Keys, bearer, sent, settled


def test_a_key_reads_its_own_activity_each_decision_explained(
    client: TestClient, keys: Keys, engine: Engine
) -> None:
    reader = bearer(keys.reader)
    assert (
        client.get("/v1/events", headers={**reader, "X-Request-ID": "listing-1"}).status_code == 200
    )
    assert client.post("/v1/events", json=EVENT, headers=reader).status_code == 403
    settled(engine)
    page = client.get(f"/v1/keys/{keys.ids['reader']}/activity", headers=reader)
    assert page.status_code == 200
    entries = page.json()["data"]
    # The listing is a decision of its own, which the writer may have kept already.
    decisions = [e for e in entries if e["event"] == "decision" and e["path"] == "/v1/events"]
    assert [(d["method"], d["code"]) for d in decisions][:2] == [
        ("POST", "INSUFFICIENT_SCOPE"),
        ("GET", "OK"),
    ]
    denied = decisions[0]
    assert denied["trace"][-1] == {
        "step": "scope",
        "passed": False,
        "detail": "no scope of this read-only key grants events:write",
    }
    assert decisions[1]["request_id"] == "listing-1"
    created = [e for e in entries if e["event"] == "key.created"]
    assert [e["subject"] for e in created] == [keys.ids["reader"]]
    only_denials = client.get(
        f"/v1/keys/{keys.ids['reader']}/activity",
        params={"code": "INSUFFICIENT_SCOPE"},
        headers=reader,
    ).json()["data"]
    assert {e["code"] for e in only_denials} == {"INSUFFICIENT_SCOPE"}


def test_a_keys_activity_is_read_page_by_page(
    client: TestClient, keys: Keys, engine: Engine
) -> None:
    reader = bearer(keys.reader)
    for n in range(3):
        client.get("/v1/events", headers={**reader, "X-Request-ID": f"page-{n}"})
    settled(engine)
    path = f"/v1/keys/{keys.ids['reader']}/activity"
    first = client.get(path, params={"limit": 2}, headers=reader).json()
    rest = client.get(path, params={"cursor": first["next_cursor"]}, headers=reader)
    assert rest.status_code == 200
    # The listings are decisions of their own, which the writer may have kept already.
    seen = [
        e.get("request_id", e["event"])
        for e in [*first["data"], *rest.json()["data"]]
        if e.get("path") != path
    ]
    assert seen[:3] == ["page-2", "page-1", "page-0"]
    assert seen[-1] == "key.created"


def test_a_key_reads_no_other_keys_activity(client: TestClient, keys: Keys) -> None:
    for path in ("activity", "usage", "alerts"):
        other = client.get(f"/v1/keys/{keys.ids['writer']}/{path}", headers=bearer(keys.reader))
        assert other.status_code == 403, path
        missing = client.get(
            f"/v1/keys/key_00000000000000000000/{path}", headers=bearer(keys.admin)
        )
        assert missing.status_code == 404, path


def test_usage_counts_what_the_key_did(client: TestClient, keys: Keys, engine: Engine) -> None:
    for _ in range(3):
        client.get("/v1/events", headers=bearer(keys.scoped))
    client.post("/v1/events", json=EVENT, headers=bearer(keys.scoped))
    settled(engine)
    usage = client.get(f"/v1/keys/{keys.ids['scoped']}/usage", headers=bearer(keys.scoped))
    assert usage.status_code == 200
    (point,) = usage.json()["data"]
    assert point["step"] == "minute"
    assert (point["requests"], point["allowed"]) == (4, 3)
    assert point["denied"] == {"INSUFFICIENT_SCOPE": 1}
    by_day = client.get(
        f"/v1/keys/{keys.ids['scoped']}/usage", params={"step": "day"}, headers=bearer(keys.scoped)
    )
    assert by_day.json()["data"][0]["step"] == "day"


def test_alerts_of_a_key_are_a_page(client: TestClient, keys: Keys) -> None:
    alerts = client.get(f"/v1/keys/{keys.ids['reader']}/alerts", headers=bearer(keys.reader))
    assert alerts.status_code == 200
    assert alerts.json() == {"data": [], "next_cursor": None}


def test_key_changes_over_the_api_are_done_as_the_calling_key_and_told_to_hooks(
    client: TestClient, keys: Keys, engine: Engine
) -> None:
    hook = client.post(
        "/v1/hooks",
        json={"url": "https://hooks.example.com/k", "events": ["key.*"]},
        headers=bearer(keys.admin),
    ).json()["hook"]
    made = client.post(
        "/v1/keys", json={"type": "read-only", "label": "short-lived"}, headers=bearer(keys.admin)
    ).json()["key"]
    client.post(f"/v1/keys/{made['id']}/revoke", headers=bearer(keys.admin))
    settled(engine)
    events = [
        e
        for e in client.get(f"/v1/keys/{made['id']}/activity", headers=bearer(keys.admin)).json()[
            "data"
        ]
        if e["event"].startswith("key.")
    ]
    assert [(e["event"], e["actor"]) for e in events] == [
        ("key.revoked", f"key:{keys.ids['admin']}"),
        ("key.created", f"key:{keys.ids['admin']}"),
    ]
    told = wait_for(
        lambda: [
            s for s in sent(client) if s.hook_id == hook["id"] and s.data["subject"] == made["id"]
        ],
        2,
    )
    assert [s.kind for s in told] == ["key.created", "key.revoked"]
    assert told[1].data["actor"] == f"key:{keys.ids['admin']}"


def test_a_hooks_delivery_log_and_a_replay(client: TestClient, keys: Keys) -> None:
    writer = bearer(keys.writer)
    hook = client.post(
        "/v1/hooks",
        json={"url": "https://hooks.example.com/e", "events": ["event.created"]},
        headers=writer,
    ).json()["hook"]
    other = client.post(
        "/v1/hooks",
        json={"url": "https://hooks.example.com/o", "events": ["event.created"]},
        headers=writer,
    ).json()["hook"]
    event = client.post("/v1/events", json=EVENT, headers=writer).json()
    log = client.get(f"/v1/hooks/{hook['id']}/deliveries", headers=bearer(keys.reader))
    assert log.status_code == 200
    (delivery,) = log.json()["data"]
    assert delivery["hook_id"] == hook["id"]
    assert delivery["kind"] == "event.created"
    assert delivery["state"] == "pending"
    assert delivery["body"]["type"] == "event.created"
    assert delivery["body"]["data"]["event"]["id"] == event["id"]
    replayed = client.post(
        f"/v1/hooks/{hook['id']}/deliveries/{delivery['id']}/replay", headers=writer
    )
    assert replayed.status_code == 200
    assert replayed.json()["id"] == delivery["id"]
    elsewhere = client.post(
        f"/v1/hooks/{other['id']}/deliveries/{delivery['id']}/replay", headers=writer
    )
    assert elsewhere.status_code == 404
    assert (
        client.post(
            f"/v1/hooks/{hook['id']}/deliveries/{delivery['id']}/replay",
            headers=bearer(keys.reader),
        ).status_code
        == 403
    )
    assert (
        client.get("/v1/hooks/hk_missing/deliveries", headers=bearer(keys.reader)).status_code
        == 404
    )
    dead = client.get(
        f"/v1/hooks/{hook['id']}/deliveries", params={"state": "dead"}, headers=bearer(keys.reader)
    )
    assert dead.json()["data"] == []


def wait_for(found: Any, count: int, timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while len(result := found()) < count:
        assert time.monotonic() < deadline, result
        time.sleep(0.05)
    return result


def test_since_and_until_beyond_the_calendar_in_utc_are_refused(
    client: TestClient, keys: Keys
) -> None:
    for path in ("activity", "usage"):
        for name, instant in (
            ("since", "0001-01-01T00:00:00+23:59"),
            ("until", "9999-12-31T23:59:59-23:59"),
        ):
            response = client.get(
                f"/v1/keys/{keys.ids['reader']}/{path}",
                params={name: instant},
                headers=bearer(keys.reader),
            )
            assert response.status_code == 422, (path, name, response.text)
            assert [d["field"] for d in response.json()["error"]["details"]] == [name]


def test_deliveries_of_key_events_are_read_and_replayed_only_by_keys_readers(
    client: TestClient, keys: Keys
) -> None:
    hook = client.post(
        "/v1/hooks",
        json={"url": "https://hooks.example.com/all", "events": ["*"]},
        headers=bearer(keys.admin),
    ).json()["hook"]
    made = client.post(
        "/v1/keys", json={"type": "read-only", "label": "payroll"}, headers=bearer(keys.admin)
    ).json()["key"]
    deliveries = f"/v1/hooks/{hook['id']}/deliveries"
    (delivery,) = wait_for(
        lambda: [
            d
            for d in client.get(deliveries, headers=bearer(keys.admin)).json()["data"]
            if d["kind"] == "key.created" and d["body"]["data"]["subject"] == made["id"]
        ],
        1,
    )
    assert delivery["body"]["data"]["details"]["label"] == "payroll"
    for key in (keys.reader, keys.writer):
        refused = client.get(deliveries, headers=bearer(key))
        assert refused.status_code == 403
        assert "keys:read" in refused.json()["error"]["message"]
        assert "payroll" not in refused.text
    replay = client.post(f"{deliveries}/{delivery['id']}/replay", headers=bearer(keys.writer))
    assert replay.status_code == 403
    assert "payroll" not in replay.text
