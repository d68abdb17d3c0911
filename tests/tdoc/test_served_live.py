"""A live-environment server: live keys write only when restricted to known networks,
test keys are refused, and the refusals say which rule decided."""

from __future__ import annotations

from pathlib import Path

from policyengine.engine import Engine

from .conftest import EVENT, POLICIES, SECRET
from .served import serve


def test_live_writes_need_an_allow_list_over_http(tmp_path: Path) -> None:
    with serve(tmp_path, environment="live") as served:
        admin = served.admin_key
        assert admin is not None
        assert admin.startswith("tdoc_live_")
        keys = {}
        with served.client(admin) as client:
            for name, fields in {
                "open": {"type": "write"},
                "pinned": {"type": "write", "allowed_ips": ["127.0.0.1/32"]},
                "elsewhere": {"type": "write", "allowed_ips": ["203.0.113.0/24"]},
            }.items():
                response = client.post("/v1/keys", json={"label": name, **fields})
                assert response.status_code == 201, response.text
                keys[name] = response.json()["secret"]
            # A live server's key API makes live keys only.
            other = client.post(
                "/v1/keys", json={"label": "t", "type": "write", "environment": "test"}
            )
            assert other.status_code == 400
            assert "live keys only" in other.json()["error"]["message"]
            # The admin key manages keys, but is itself open: it may not write.
            denied = client.post("/v1/events", json=EVENT)
            assert denied.status_code == 403
            assert denied.json()["error"]["code"] == "DENIED_BY_POLICY"
        with served.client(keys["open"]) as client:
            assert client.get("/v1/events").status_code == 200
            refused = client.post("/v1/events", json=EVENT)
            assert refused.status_code == 403
            assert refused.json()["error"] == {
                "code": "DENIED_BY_POLICY",
                "message": "Keys that write to production must be restricted to known networks",
                "request_id": refused.headers["X-Request-ID"],
            }
        with served.client(keys["pinned"]) as client:
            made = client.post("/v1/events", json=EVENT)
            assert made.status_code == 201, made.text
            task = client.post(
                "/v1/tasks", json={"name": "t", "steps": [{"type": "wait", "duration": "1ms"}]}
            )
            assert client.post(f"/v1/tasks/{task.json()['id']}/runs").status_code == 202
        with served.client(keys["elsewhere"]) as client:
            outside = client.get("/v1/events")
            assert outside.status_code == 403
            assert outside.json()["error"]["code"] == "IP_NOT_ALLOWED"
        # A test key in the same store, made as any embedding application would.
        with Engine.from_directory(
            POLICIES, environment="test", store=f"sqlite:///{tmp_path / 'tdoc.db'}", secret=SECRET
        ) as engine:
            keys["test"] = engine.keys.create(type="write", label="t", environment="test").secret
        with served.client(keys["test"]) as client:
            wrong = client.get("/v1/events")
            assert wrong.status_code == 403
            assert wrong.json()["error"]["code"] == "WRONG_ENVIRONMENT"
