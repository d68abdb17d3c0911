"""The whole API over HTTP, against ``policyengine serve`` in a subprocess: the policies'
decisions, a task with every kind of step and the signed delivery of its end, a key
revoked in the middle of a run, the admin key printed once, and a graceful stop."""

from __future__ import annotations

import json
import re
import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from standardwebhooks import Webhook

from policyengine.decision import STATUS, Code
from policyengine.policy.loader import load_directory
from policyengine.policy.suites import load_suites

from .conftest import EVENT, POLICIES
from .receiver import receiving
from .served import Served, poll_run, serve

#: Statuses the engine answers with: anything else came from past it.
ENGINE_STATUSES = {401, 403, 429, 503}


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with serve(tmp_path_factory.mktemp("served")) as server:
        yield server


@pytest.fixture(scope="module")
def admin(served: Served) -> str:
    key = served.admin_key
    assert key is not None, served.output()
    return key


def create_key(served: Served, admin: str, **fields: object) -> tuple[str, str]:
    with served.client(admin) as client:
        response = client.post("/v1/keys", json={"label": "test", **fields})
    assert response.status_code == 201, response.text
    created = response.json()
    return created["secret"], created["key"]["id"]


def test_the_policies_decide_every_request_over_http_as_their_suite_says(
    served: Served, admin: str
) -> None:
    (suite,) = [s for s in load_suites(POLICIES, load_directory(POLICIES)) if s.name == "key types"]
    keys: dict[str, tuple[str, str] | None] = {}
    for case in suite.cases:
        if case.key_name not in keys:
            fields: dict[str, object] = {"type": case.key.type, "environment": "test"}
            if case.key.scopes:
                fields["scopes"] = list(case.key.scopes)
            with served.client(admin) as client:
                response = client.post("/v1/keys", json={"label": case.key_name, **fields})
            if response.status_code == 400:
                # A key the policies would never issue (scopes beyond its type's allowance):
                # the suite makes it by hand; over HTTP it cannot exist at all.
                assert "outside what key type" in response.json()["error"]["message"]
                keys[case.key_name] = None
            else:
                assert response.status_code == 201, response.text
                keys[case.key_name] = (response.json()["secret"], response.json()["key"]["id"])
    checked = 0
    for case in suite.cases:
        issued = keys[case.key_name]
        if issued is None:
            continue
        secret, _ = issued
        if case.credential == "token":
            with served.client(secret) as client:
                secret = client.post("/v1/auth/token").json()["access_token"]
        path = re.sub(
            r"key_([a-z-]+)",
            lambda m: (keys.get(m.group(1)) or ("", m.group(0)))[1],
            str(case.request.path),
        )
        method = str(case.request.method)
        body = {} if method in ("POST", "PUT", "PATCH") else None
        with served.client(secret) as client:
            response = client.request(method, path, json=body)
        where = f"{case.name} [{case.key_name} × {case.request_name}]: {response.text}"
        if case.expect is Code.OK:
            assert response.status_code not in ENGINE_STATUSES, where
        else:
            assert response.status_code == STATUS[case.expect], where
            assert response.json()["error"]["code"] == case.expect.value, where
        checked += 1
    assert [name for name, issued in keys.items() if issued is None] == ["beyond-allowance"]
    assert checked == len([case for case in suite.cases if case.key_name != "beyond-allowance"])


def test_a_task_runs_every_step_and_its_hook_gets_the_signed_end(
    served: Served, admin: str
) -> None:
    writer, writer_id = create_key(served, admin, type="write")
    with receiving() as receiver, served.client(writer) as client:
        hook = client.post("/v1/hooks", json={"url": receiver.url, "events": ["task.run.*"]})
        assert hook.status_code == 201, hook.text
        secret = hook.json()["secret"]
        task = client.post(
            "/v1/tasks",
            json={
                "name": "wait, create, tell",
                "steps": [
                    {"type": "wait", "duration": "500ms"},
                    {"type": "request", "method": "POST", "path": "/v1/events", "body": EVENT},
                    {"type": "notify", "data": {"message": "an event was made"}},
                ],
            },
        ).json()
        triggered = client.post(f"/v1/tasks/{task['id']}/runs")
        assert triggered.status_code == 202
        seen_states = {triggered.json()["state"]}
        location = triggered.headers["Location"]
        deadline = time.monotonic() + 30
        while (run := client.get(location).json())["state"] not in ("succeeded", "failed"):
            seen_states.add(run["state"])
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert run["state"] == "succeeded", run
        assert {"queued", "running"} <= seen_states
        assert [s["status"] for s in run["steps"]] == ["succeeded"] * 3
        assert run["steps"][1]["result"]["body"]["created_by"] == writer_id
        delivery = receiver.wait_for(lambda r: b'"task.run.succeeded"' in r.body)
    message = Webhook(secret).verify(delivery.body, delivery.headers)
    assert message["type"] == "task.run.succeeded"
    assert message["data"]["run"]["id"] == run["id"]
    assert message["data"]["run"]["state"] == "succeeded"
    assert delivery.headers["webhook-signature"].startswith("v1,")


def test_a_run_whose_key_is_revoked_mid_run_fails_with_the_reason(
    served: Served, admin: str
) -> None:
    writer, writer_id = create_key(served, admin, type="write")
    with served.client(writer) as client:
        task = client.post(
            "/v1/tasks",
            json={
                "name": "slow writer",
                "steps": [
                    {"type": "wait", "duration": "1s"},
                    {"type": "request", "method": "POST", "path": "/v1/events", "body": EVENT},
                ],
            },
        ).json()
        location = client.post(f"/v1/tasks/{task['id']}/runs").headers["Location"]
    with served.client(admin) as client:
        assert client.post(f"/v1/keys/{writer_id}/revoke").status_code == 200
        run = poll_run(client, location)
    assert run["state"] == "failed"
    wait, request = run["steps"]  # type: ignore[misc]
    assert wait["status"] == "succeeded"
    assert request["status"] == "failed"
    assert request["result"]["decision"]["code"] == "REVOKED"
    assert "REVOKED" in str(run["error"])


def test_the_admin_key_is_printed_on_the_first_start_only(tmp_path: Path) -> None:
    with serve(tmp_path) as first:
        key = first.admin_key
        assert key is not None
        lines = [line.strip() for line in first.stdout]
        said = lines[lines.index(key) - 1]
        assert "admin key" in " ".join(lines[: lines.index(key)])
        assert said
    with serve(tmp_path) as second:
        assert second.admin_key is None
        with second.client(key) as client:
            assert client.get("/v1/keys").status_code == 200


def test_a_stop_lets_requests_finish_and_leaves_runs_to_resume(tmp_path: Path) -> None:
    with serve(tmp_path) as first:
        admin = first.admin_key
        assert admin is not None
        with first.client(admin) as client:
            # Two seconds: a longer wait would park the run rather than hold a worker, and
            # the stop would have nothing to hand back.
            task = client.post(
                "/v1/tasks",
                json={"name": "long", "steps": [{"type": "wait", "duration": "2s"}]},
            ).json()
            location = client.post(f"/v1/tasks/{task['id']}/runs").headers["Location"]
            deadline = time.monotonic() + 10
            while client.get(location).json()["state"] != "running":
                assert time.monotonic() < deadline
                time.sleep(0.05)
            admin_id = client.get("/v1/keys").json()["data"][0]["id"]
        # A request whose body is still on its way when the signal comes.
        body = json.dumps(EVENT).encode()
        with socket.create_connection(("127.0.0.1", first.port), timeout=20) as connection:
            connection.sendall(
                b"POST /v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                + f"Authorization: Bearer {admin}\r\n".encode()
                + b"Content-Type: application/json\r\nConnection: close\r\n"
                + f"Content-Length: {len(body)}\r\n\r\n".encode()
                + body[:10]
            )
            time.sleep(0.3)
            first.process.send_signal(signal.SIGTERM)
            time.sleep(0.3)
            connection.sendall(body[10:])
            answer = b""
            while chunk := connection.recv(65536):
                answer += chunk
        assert answer.startswith(b"HTTP/1.1 201"), answer[:200]
        status = first.stop()
        assert status in (0, -signal.SIGTERM), first.output()
    with serve(tmp_path) as second, second.client(admin) as client:
        # Handed back at the stop, the run is taken up at once, not when a lease runs out.
        run = poll_run(client, location, timeout=15)
        assert run["state"] == "succeeded"
        assert run["attempts"] == 2
        assert client.get(f"/v1/keys/{admin_id}").json()["last_used_at"] is not None
        assert len(client.get("/v1/events").json()["data"]) == 1


def test_a_key_reads_its_own_activity_and_no_other_keys(served: Served, admin: str) -> None:
    reader, reader_id = create_key(served, admin, type="read-only")
    writer, writer_id = create_key(served, admin, type="write")
    with served.client(reader) as client:
        assert client.get("/v1/events", headers={"X-Request-ID": "mine-1"}).status_code == 200
        assert client.delete("/v1/events/evt_42").status_code == 403
        deadline = time.monotonic() + 10
        while True:
            page = client.get(f"/v1/keys/{reader_id}/activity")
            assert page.status_code == 200, page.text
            decisions = [e for e in page.json()["data"] if e["event"] == "decision"]
            if len(decisions) >= 2:
                break
            assert time.monotonic() < deadline, page.json()
            time.sleep(0.1)
        assert client.get(f"/v1/keys/{reader_id}").json()["id"] == reader_id
        assert client.get(f"/v1/keys/{reader_id}/usage").status_code == 200
        refused = client.get(f"/v1/keys/{writer_id}/activity")
        assert refused.status_code == 403
    by_request = {d["request_id"]: d for d in decisions}
    assert by_request["mine-1"]["code"] == "OK"
    denied = next(d for d in decisions if d["code"] == "INSUFFICIENT_SCOPE")
    assert denied["path"] == "/v1/events/evt_42"
    assert denied["trace"][-1]["passed"] is False
    del writer


@pytest.mark.parametrize(
    ("options", "header", "allowed"),
    [
        ((), {"X-Forwarded-For": "203.0.113.9"}, False),
        (("--trusted-proxy=127.0.0.1/32",), {"X-Forwarded-For": "203.0.113.9"}, True),
        (("--trusted-proxy=127.0.0.1/32",), {"Forwarded": "for=203.0.113.9"}, False),
        (
            ("--trusted-proxy=127.0.0.1/32", "--forwarded-header=forwarded"),
            {"Forwarded": 'for="203.0.113.9:4711"'},
            True,
        ),
    ],
)
def test_behind_a_trusted_proxy_a_key_is_judged_by_the_forwarded_address(
    tmp_path: Path, options: tuple[str, ...], header: dict[str, str], allowed: bool
) -> None:
    with serve(tmp_path, options=options) as server:
        admin = server.admin_key
        assert admin is not None
        with server.client(admin) as client:
            made = client.post(
                "/v1/keys",
                json={"type": "read-only", "label": "partner", "allowed_ips": ["203.0.113.0/24"]},
            )
            assert made.status_code == 201, made.text
        with server.client(made.json()["secret"]) as client:
            response = client.get("/v1/events", headers=header)
        if allowed:
            assert response.status_code == 200, response.text
        else:
            assert response.status_code == 403
            assert response.json()["error"]["code"] == "IP_NOT_ALLOWED"
