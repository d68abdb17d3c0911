"""Tasks and runs: steps in order, each one's status, result and timing; requests made
with the trigger's authority and no more; runs handed back on shutdown and resumed."""

from __future__ import annotations

import time
from typing import Any

import pytest
from fastapi.testclient import TestClient

from policyengine.engine import Engine
from portal.models.tasks import RequestStep, TaskFields

from .conftest import CLIENT, EVENT, AppFactory, Keys, bearer, sent, tdoc_engine, wait_for_run


def make_task(client: TestClient, key: str, *steps: dict[str, Any]) -> str:
    response = client.post(
        "/v1/tasks", json={"name": "job", "steps": list(steps)}, headers=bearer(key)
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def trigger(client: TestClient, key: str, task_id: str) -> str:
    response = client.post(f"/v1/tasks/{task_id}/runs", headers=bearer(key))
    assert response.status_code == 202, response.text
    run = response.json()
    assert run["state"] == "queued"
    assert [s["status"] for s in run["steps"]] == ["pending"] * len(run["steps"])
    return str(response.headers["Location"])


def test_a_run_carries_out_its_steps_in_order(client: TestClient, keys: Keys) -> None:
    client.post(
        "/v1/hooks",
        json={"url": "https://hooks.example.com/a", "events": ["task.run.*"]},
        headers=bearer(keys.writer),
    )
    task = make_task(
        client,
        keys.writer,
        {"type": "request", "method": "POST", "path": "/v1/events", "body": EVENT},
        {"type": "wait", "duration": "300ms"},
        {"type": "notify", "kind": "task.run.notification", "data": {"message": "done"}},
    )
    run = wait_for_run(client, trigger(client, keys.writer, task), keys.writer)
    assert run["state"] == "succeeded"
    assert run["error"] is None
    assert run["attempts"] == 1
    created, waited, notified = run["steps"]
    assert created["status"] == "succeeded"
    assert created["result"]["status"] == 201
    assert created["result"]["body"]["created_by"] == keys.ids["writer"]
    assert waited["result"] == {"waited": "300ms"}
    assert waited["duration_ms"] >= 300
    assert notified["result"]["kind"] == "task.run.notification"
    assert len(notified["result"]["deliveries"]) == 1
    for step in run["steps"]:
        assert step["started_at"] <= step["finished_at"]
    events = client.get("/v1/events", headers=bearer(keys.reader)).json()["data"]
    assert [e["id"] for e in events] == [created["result"]["body"]["id"]]
    queued = sent(client)
    assert [item.kind for item in queued] == [
        "task.run.started",
        "task.run.notification",
        "task.run.succeeded",
    ]
    payload = queued[-1].data
    assert payload["run"]["id"] == run["id"]
    assert payload["run"]["state"] == "succeeded"


def test_a_run_does_no_more_than_the_key_that_triggered_it(client: TestClient, keys: Keys) -> None:
    task = make_task(client, keys.admin, {"type": "request", "method": "GET", "path": "/v1/keys"})
    run = wait_for_run(client, trigger(client, keys.writer, task), keys.writer)
    assert run["state"] == "failed"
    (step,) = run["steps"]
    assert step["result"]["decision"]["code"] == "INSUFFICIENT_SCOPE"
    assert "INSUFFICIENT_SCOPE" in run["error"]


def test_a_run_triggered_with_a_token_carries_the_tokens_scopes(
    client: TestClient, keys: Keys
) -> None:
    task = make_task(
        client,
        keys.writer,
        {"type": "request", "method": "POST", "path": "/v1/events", "body": EVENT},
    )
    token = client.post(
        "/v1/auth/token",
        json={"scopes": ["tasks:trigger", "tasks:read"]},
        headers=bearer(keys.writer),
    ).json()["access_token"]
    run = wait_for_run(client, trigger(client, token, task), keys.writer)
    assert run["state"] == "failed"
    assert run["steps"][0]["result"]["decision"]["code"] == "INSUFFICIENT_SCOPE"


def test_a_key_revoked_mid_run_fails_the_run_with_the_decision(
    client: TestClient, keys: Keys
) -> None:
    task = make_task(
        client,
        keys.writer,
        {"type": "wait", "duration": "500ms"},
        {"type": "request", "method": "GET", "path": "/v1/events"},
        {"type": "wait", "duration": "1s"},
    )
    location = trigger(client, keys.writer, task)
    client.post(f"/v1/keys/{keys.ids['writer']}/revoke", headers=bearer(keys.admin))
    run = wait_for_run(client, location, keys.admin)
    assert run["state"] == "failed"
    assert [s["status"] for s in run["steps"]] == ["succeeded", "failed", "skipped"]
    result = run["steps"][1]["result"]
    assert result["status"] == 401
    assert result["decision"] == {"code": "REVOKED", "message": "the key is revoked"}
    assert "REVOKED" in run["error"]


def test_secrets_a_step_gets_back_are_not_kept(client: TestClient, keys: Keys) -> None:
    task = make_task(
        client,
        keys.admin,
        {
            "type": "request",
            "method": "POST",
            "path": "/v1/keys",
            "body": {"type": "read-only", "label": "made by a task"},
        },
        {
            "type": "request",
            "method": "POST",
            "path": "/v1/hooks",
            "body": {"url": "https://hooks.example.com/b", "events": ["*"]},
        },
    )
    run = wait_for_run(client, trigger(client, keys.admin, task), keys.admin)
    assert run["state"] == "succeeded", run["error"]
    made, hook = (step["result"]["body"] for step in run["steps"])
    assert made["secret"] == "[withheld]"
    assert made["key"]["label"] == "made by a task"
    assert hook["secret"] == "[withheld]"
    assert hook["hook"]["url"] == "https://hooks.example.com/b"


@pytest.mark.parametrize(
    ("step", "field"),
    [
        ({"type": "sleep", "duration": "1s"}, "steps[0]"),
        ({"type": "wait", "duration": "2h"}, "steps[0].duration"),
        ({"type": "wait", "duration": "soon"}, "steps[0].duration"),
        ({"type": "request", "method": "GET", "path": "https://example.com/"}, "steps[0].path"),
        ({"type": "request", "method": "GET", "path": "/v1/events?limit=1"}, "steps[0].path"),
        ({"type": "request", "method": "POST", "path": "/v1/tasks/tsk_1/runs"}, "steps[0].path"),
        # Dot segments: the call would go to /v1/tasks/tsk_1/runs, or anywhere else.
        ({"type": "request", "method": "POST", "path": "/v1/tasks/tsk_1/./runs"}, "steps[0].path"),
        (
            {"type": "request", "method": "POST", "path": "/v1/tasks/x/../tsk_1/runs"},
            "steps[0].path",
        ),
        ({"type": "request", "method": "GET", "path": "/v1/events/../keys"}, "steps[0].path"),
        ({"type": "notify", "kind": "task.run.succeeded"}, "steps[0].kind"),
        ({"type": "notify", "kind": "key.revoked"}, "steps[0].kind"),
    ],
)
def test_steps_that_cannot_run_are_refused(
    client: TestClient, keys: Keys, step: dict[str, Any], field: str
) -> None:
    response = client.post(
        "/v1/tasks", json={"name": "bad", "steps": [step]}, headers=bearer(keys.writer)
    )
    assert response.status_code == 422
    assert [d["field"] for d in response.json()["error"]["details"]] == [field]


def test_a_run_is_found_only_under_its_own_task(client: TestClient, keys: Keys) -> None:
    first = make_task(client, keys.writer, {"type": "wait", "duration": "1ms"})
    second = make_task(client, keys.writer, {"type": "wait", "duration": "1ms"})
    location = trigger(client, keys.writer, first)
    run_id = location.rsplit("/", 1)[1]
    assert (
        client.get(f"/v1/tasks/{second}/runs/{run_id}", headers=bearer(keys.reader)).status_code
        == 404
    )
    assert client.post("/v1/tasks/tsk_missing/runs", headers=bearer(keys.writer)).status_code == 404
    assert client.post(f"/v1/tasks/{first}/runs", headers=bearer(keys.reader)).status_code == 403


def test_a_run_cut_short_by_shutdown_resumes_where_it_stood(
    make_app: AppFactory, keys: Keys
) -> None:
    with TestClient(make_app(), client=CLIENT) as client:
        task = make_task(
            client,
            keys.writer,
            {"type": "request", "method": "POST", "path": "/v1/events", "body": EVENT},
            {"type": "wait", "duration": "1500ms"},
        )
        location = trigger(client, keys.writer, task)
        deadline = time.monotonic() + 5
        while (
            client.get(location, headers=bearer(keys.reader)).json()["steps"][1]["status"]
            != "running"
        ):
            assert time.monotonic() < deadline
            time.sleep(0.02)
    with TestClient(make_app(workers=0), client=CLIENT) as idle:
        handed_back = idle.get(location, headers=bearer(keys.reader)).json()
    assert handed_back["state"] == "queued"
    assert [s["status"] for s in handed_back["steps"]] == ["succeeded", "pending"]
    wait_started = handed_back["steps"][1]["started_at"]
    assert wait_started is not None
    with TestClient(make_app(), client=CLIENT) as client:
        run = wait_for_run(client, location, keys.reader)
        events = client.get("/v1/events", headers=bearer(keys.reader)).json()["data"]
    assert run["state"] == "succeeded"
    assert run["attempts"] == 2
    assert run["steps"][1]["started_at"] == wait_started
    assert len(events) == 1  # the finished request step was not made again


def test_a_run_whose_worker_died_is_taken_up_when_its_lease_ends(
    make_app: AppFactory, keys: Keys, engine: Engine
) -> None:
    from datetime import timedelta

    with TestClient(make_app(workers=0), client=CLIENT) as client:
        task = make_task(client, keys.writer, {"type": "wait", "duration": "10ms"})
        location = trigger(client, keys.writer, task)
        services = client.app.state.services  # type: ignore[attr-defined]
        claimed = services.runs.claim("a-worker-that-dies", timedelta(milliseconds=300))
        assert claimed is not None
        assert services.runs.claim("another", timedelta(seconds=30)) is None
    with TestClient(make_app(), client=CLIENT) as client:
        run = wait_for_run(client, location, keys.reader)
    assert run["state"] == "succeeded"
    assert run["attempts"] == 2


def test_what_a_run_read_with_its_triggers_authority_is_shown_only_to_keys_that_may_read_it(
    client: TestClient, keys: Keys, engine: Engine
) -> None:
    task = make_task(
        client,
        keys.admin,
        {"type": "request", "method": "GET", "path": "/v1/keys"},
        {"type": "request", "method": "GET", "path": "/v1/events"},
    )
    location = trigger(client, keys.admin, task)
    as_admin = wait_for_run(client, location, keys.admin)
    assert as_admin["state"] == "succeeded"
    labels = [k["label"] for k in as_admin["steps"][0]["result"]["body"]["data"]]
    assert "reader" in labels
    one_event = engine.keys.create(
        type="scoped", label="one", environment="test", scopes=["tasks:read", "events/evt_x:read"]
    ).secret
    for key in (keys.reader, keys.writer, one_event):
        run = client.get(location, headers=bearer(key))
        assert run.status_code == 200
        keys_step, events_step = run.json()["steps"]
        assert keys_step["result"]["status"] == 200
        assert keys_step["result"]["body"] == "[withheld]"
        assert "reader" not in run.text
        shown = key != one_event
        assert (events_step["result"]["body"] != "[withheld]") is shown


def test_hooks_hear_of_a_run_without_what_its_requests_read(client: TestClient, keys: Keys) -> None:
    client.post(
        "/v1/hooks",
        json={"url": "https://hooks.example.com/runs", "events": ["task.run.*"]},
        headers=bearer(keys.writer),
    )
    task = make_task(client, keys.admin, {"type": "request", "method": "GET", "path": "/v1/keys"})
    run = wait_for_run(client, trigger(client, keys.admin, task), keys.admin)
    assert run["steps"][0]["result"]["body"]["data"]
    told = [item for item in sent(client) if item.kind == "task.run.succeeded"]
    (step,) = told[0].data["run"]["steps"]
    assert step["result"]["status"] == 200
    assert step["result"]["body"] == "[withheld]"
    assert keys.ids["reader"] not in str(told[0].data)


def test_a_stored_step_with_dot_segments_fails_its_run_and_reaches_no_route(
    client: TestClient, keys: Keys
) -> None:
    # A task stored before such paths were refused still lists, but its run makes no call.
    leaf = make_task(client, keys.writer, {"type": "wait", "duration": "1ms"})
    path = f"/v1/tasks/x/../{leaf}/runs"
    step = RequestStep.model_construct(type="request", method="POST", path=path, body=None)
    fields = TaskFields.model_construct(name="old", description="", steps=[step])
    task = client.app.state.services.tasks.create(fields, keys.ids["writer"])  # type: ignore[attr-defined]
    listed = client.get("/v1/tasks", headers=bearer(keys.reader))
    assert listed.status_code == 200
    assert task.id in [t["id"] for t in listed.json()["data"]]
    run = wait_for_run(client, trigger(client, keys.writer, task.id), keys.writer)
    assert run["state"] == "failed"
    assert "'.' or '..' segment" in run["error"]
    # No status: the call was never made.
    assert run["steps"][0]["result"] == {"method": "POST", "path": path}


def test_long_waits_do_not_hold_the_workers_from_other_runs(
    make_app: AppFactory, keys: Keys
) -> None:
    # One key's runs that wait an hour must not stall everyone's runs behind them.
    with TestClient(make_app(workers=1), client=CLIENT) as client:
        slow = make_task(client, keys.writer, {"type": "wait", "duration": "1h"})
        waiting = [trigger(client, keys.writer, slow) for _ in range(3)]
        quick = make_task(
            client, keys.admin, {"type": "request", "method": "GET", "path": "/v1/events"}
        )
        run = wait_for_run(client, trigger(client, keys.admin, quick), keys.admin, timeout=5)
        assert run["state"] == "succeeded"
        for location in waiting:
            parked = client.get(location, headers=bearer(keys.reader)).json()
            assert parked["state"] == "running"
            assert parked["steps"][0]["status"] == "running"


def test_a_parked_wait_is_taken_up_when_it_is_over(client: TestClient, keys: Keys) -> None:
    task = make_task(
        client,
        keys.writer,
        {"type": "wait", "duration": "2500ms"},
        {"type": "request", "method": "POST", "path": "/v1/events", "body": EVENT},
    )
    run = wait_for_run(client, trigger(client, keys.writer, task), keys.writer)
    assert run["state"] == "succeeded", run["error"]
    assert run["attempts"] == 1
    assert run["steps"][0]["result"] == {"waited": "2500ms"}
    assert run["steps"][0]["duration_ms"] >= 2500
    assert run["steps"][1]["result"]["status"] == 201


def test_a_hook_url_a_step_registered_is_shown_as_the_hooks_api_shows_it(
    client: TestClient, keys: Keys
) -> None:
    # Slack's URL is its credential: /v1/hooks hides it, and so must a run's result, which
    # any key that may read tasks and hooks reads.
    url = "https://hooks.slack.com/services/T0AAAAAAA/B0BBBBBBB/SuperSecretToken1234567890"
    task = make_task(
        client,
        keys.writer,
        {
            "type": "request",
            "method": "POST",
            "path": "/v1/hooks",
            "body": {"url": url, "events": ["event.*"]},
        },
    )
    location = trigger(client, keys.writer, task)
    assert wait_for_run(client, location, keys.writer)["state"] == "succeeded"
    listed = client.get("/v1/hooks", headers=bearer(keys.reader)).json()["data"]
    shown = listed[0]["url"]
    assert shown == "https://hooks.slack.com/services/***/***/***"
    run = client.get(location, headers=bearer(keys.reader))
    assert run.json()["steps"][0]["result"]["body"]["hook"]["url"] == shown
    # Nor does the task itself show it, read back; it registered the whole URL all the same.
    one = client.get(f"/v1/tasks/{task}", headers=bearer(keys.reader))
    assert one.json()["steps"][0]["body"]["url"] == shown
    every = client.get("/v1/tasks", headers=bearer(keys.reader))
    for answer in (run, one, every):
        assert "SuperSecretToken" not in answer.text
    services = client.app.state.services  # type: ignore[attr-defined]
    assert services.hooks.get(listed[0]["id"]).url == url


def test_a_run_does_no_more_than_the_key_that_wrote_its_task(
    client: TestClient, keys: Keys, engine: Engine
) -> None:
    # A write key writes a task that revokes a key and listens to every key event, and an
    # admin runs it: the requests carry the admin's authority only within the writer's.
    task = make_task(
        client,
        keys.writer,
        {"type": "request", "method": "POST", "path": f"/v1/keys/{keys.ids['reader']}/revoke"},
        {
            "type": "request",
            "method": "POST",
            "path": "/v1/hooks",
            "body": {"url": "https://hooks.example.com/k", "events": ["key.*"]},
        },
    )
    run = wait_for_run(client, trigger(client, keys.admin, task), keys.admin)
    assert run["state"] == "failed"
    assert run["steps"][0]["result"]["decision"]["code"] == "INSUFFICIENT_SCOPE"
    assert client.get("/v1/events", headers=bearer(keys.reader)).status_code == 200
    assert client.get("/v1/hooks", headers=bearer(keys.reader)).json()["data"] == []
    # What the writer may do, the admin's run of the writer's task does.
    events = make_task(
        client,
        keys.writer,
        {"type": "request", "method": "POST", "path": "/v1/events", "body": EVENT},
    )
    run = wait_for_run(client, trigger(client, keys.admin, events), keys.admin)
    assert run["state"] == "succeeded", run["error"]
    assert run["steps"][0]["result"]["body"]["created_by"] == keys.ids["admin"]


def test_a_task_whose_author_shares_no_scope_with_the_trigger_is_not_run(
    client: TestClient, keys: Keys, engine: Engine
) -> None:
    author = engine.keys.create(
        type="scoped", label="a", environment="test", scopes=["tasks:write", "events:write"]
    ).secret
    runner = engine.keys.create(
        type="scoped", label="r", environment="test", scopes=["tasks:trigger"]
    ).secret
    task = make_task(
        client, author, {"type": "request", "method": "POST", "path": "/v1/events", "body": EVENT}
    )
    refused = client.post(f"/v1/tasks/{task}/runs", headers=bearer(runner))
    assert refused.status_code == 403
    assert "holds none of its scopes" in refused.json()["error"]["message"]
    # A task of waits and notices needs no authority: anyone who may trigger runs it.
    quiet = make_task(client, author, {"type": "wait", "duration": "1ms"})
    assert client.post(f"/v1/tasks/{quiet}/runs", headers=bearer(runner)).status_code == 202


def test_behind_a_trusted_proxy_a_run_calls_from_the_clients_address(store_url: str) -> None:
    # The engine judges the client the proxy names; a run triggered through the proxy must
    # be judged by that client's networks too, not by the proxy's own address.
    from portal.app import create_app

    behind = tdoc_engine(store_url, trusted_proxies=["127.0.0.0/8"])
    office = behind.keys.create(
        type="write", label="office", environment="test", allowed_ips=["198.51.100.0/24"]
    ).secret
    app = create_app(behind, store=store_url, close_engine=True, poll=0.05, pages=False)
    forwarded = {**bearer(office), "X-Forwarded-For": "198.51.100.7"}
    with TestClient(app, client=CLIENT) as client:
        assert client.get("/v1/events", headers=bearer(office)).status_code == 403
        made = client.post(
            "/v1/tasks",
            json={
                "name": "read",
                "steps": [{"type": "request", "method": "GET", "path": "/v1/events"}],
            },
            headers=forwarded,
        )
        assert made.status_code == 201
        started = client.post(f"/v1/tasks/{made.json()['id']}/runs", headers=forwarded)
        assert started.status_code == 202
        location = started.headers["Location"]
        deadline = time.monotonic() + 10
        while (run := client.get(location, headers=forwarded).json())["state"] not in (
            "succeeded",
            "failed",
        ):
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert run["state"] == "succeeded", run["error"]
        simulated = client.post(
            "/v1/explain", json={"method": "GET", "path": "/v1/events"}, headers=forwarded
        )
        assert simulated.json()["request"]["ip"] == "198.51.100.7"
        assert simulated.json()["allowed"] is True


def test_a_run_triggered_from_no_known_address_calls_from_none(
    client: TestClient, engine: Engine
) -> None:
    # A server on a Unix socket knows no client address: the run's requests must not be
    # made from a loopback address that an allow list or a network rule would let in.
    local = engine.keys.create(
        type="write", label="local", environment="test", allowed_ips=["127.0.0.0/8"]
    )
    task_id = make_task(
        client, local.secret, {"type": "request", "method": "GET", "path": "/v1/events"}
    )
    services = client.app.state.services  # type: ignore[attr-defined]
    run = services.runs.enqueue(services.tasks.get(task_id), local.key.id, None, None)
    services.wake_workers()
    done = wait_for_run(client, f"/v1/tasks/{task_id}/runs/{run.id}", local.secret)
    assert done["state"] == "failed"
    assert done["steps"][0]["result"]["decision"]["code"] == "IP_NOT_ALLOWED"
