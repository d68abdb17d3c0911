"""``/v1/hooks``: a URL and the kinds it wants; its signing secret shown once."""

from __future__ import annotations

import base64
import sqlite3

import pytest
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st
from monitor.delivery.support import Answer, running_receiver

from policyengine.engine import Engine
from policyengine.monitor.delivery_settings import DeliverySettings
from portal.models.hooks import subscribed

from .conftest import CLIENT, EVENT, AppFactory, Keys, bearer, sent

HOOK = {"url": "https://hooks.example.com/tdoc", "events": ["event.*", "task.run.succeeded"]}


def test_a_hook_answers_its_secret_once(client: TestClient, keys: Keys) -> None:
    response = client.post("/v1/hooks", json=HOOK, headers=bearer(keys.writer))
    assert response.status_code == 201
    created = response.json()
    secret, hook = created["secret"], created["hook"]
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"))) == 32
    assert hook["events"] == HOOK["events"]
    assert response.headers["Location"] == f"/v1/hooks/{hook['id']}"
    listed = client.get("/v1/hooks", headers=bearer(keys.reader))
    assert [h["id"] for h in listed.json()["data"]] == [hook["id"]]
    assert secret not in listed.text
    one = client.get(f"/v1/hooks/{hook['id']}", headers=bearer(keys.reader))
    assert one.json() == hook
    assert secret not in one.text


def test_a_deleted_hook_is_gone(client: TestClient, keys: Keys) -> None:
    hook = client.post("/v1/hooks", json=HOOK, headers=bearer(keys.writer)).json()["hook"]
    assert client.delete(f"/v1/hooks/{hook['id']}", headers=bearer(keys.writer)).status_code == 204
    assert client.get(f"/v1/hooks/{hook['id']}", headers=bearer(keys.reader)).status_code == 404
    assert client.delete(f"/v1/hooks/{hook['id']}", headers=bearer(keys.writer)).status_code == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"url": "ftp://example.com/", "events": ["*"]}, "url"),
        ({"url": "https://user:pw@example.com/", "events": ["*"]}, "url"),
        ({"url": "https://example.com/#top", "events": ["*"]}, "url"),
        ({"url": "not a url", "events": ["*"]}, "url"),
        ({"url": "https://example.com/é", "events": ["*"]}, "url"),
        ({"url": "https://exa mple.com/", "events": ["*"]}, "url"),
        ({"url": "https://example.com:99999/", "events": ["*"]}, "url"),
        ({"url": "https://" + "a" * 2100 + ".com/", "events": ["*"]}, "url"),
        ({"url": "https://example.com/", "events": []}, "events"),
        ({"url": "https://example.com/", "events": ["orders.*"]}, "events[0]"),
        ({"url": "https://example.com/", "events": ["event.**"]}, "events[0]"),
    ],
)
def test_hooks_that_cannot_be_delivered_to_are_refused(
    client: TestClient, keys: Keys, body: dict[str, object], field: str
) -> None:
    response = client.post("/v1/hooks", json=body, headers=bearer(keys.writer))
    assert response.status_code == 422
    assert [d["field"] for d in response.json()["error"]["details"]] == [field]


def test_read_only_keys_cannot_register_hooks(client: TestClient, keys: Keys) -> None:
    assert client.post("/v1/hooks", json=HOOK, headers=bearer(keys.reader)).status_code == 403


segment = st.sampled_from(["event", "task", "key", "alert", "run", "created", "succeeded"])
kinds = st.lists(segment, min_size=1, max_size=4).map(".".join)


@given(kind=kinds, prefix=st.lists(segment, min_size=1, max_size=3).map(".".join))
def test_a_family_pattern_wants_exactly_the_kinds_under_it(kind: str, prefix: str) -> None:
    assert subscribed(["*"], kind)
    assert subscribed([kind], kind)
    assert subscribed([f"{prefix}.*"], kind) == kind.startswith(f"{prefix}.")


def test_what_happens_to_events_and_tasks_is_told_to_the_hooks_that_want_it(
    client: TestClient, keys: Keys
) -> None:
    events_hook = client.post(
        "/v1/hooks",
        json={"url": "https://a.example.com/", "events": ["event.*"]},
        headers=bearer(keys.writer),
    ).json()["hook"]
    client.post(
        "/v1/hooks",
        json={"url": "https://b.example.com/", "events": ["task.created"]},
        headers=bearer(keys.writer),
    )
    event = client.post("/v1/events", json=EVENT, headers=bearer(keys.writer)).json()
    client.patch(
        f"/v1/events/{event['id']}", json={"location": "Online"}, headers=bearer(keys.writer)
    )
    client.put(
        f"/v1/events/{event['id']}/members/ada", json={"role": "owner"}, headers=bearer(keys.writer)
    )
    client.delete(f"/v1/events/{event['id']}/members/ada", headers=bearer(keys.writer))
    client.delete(f"/v1/events/{event['id']}", headers=bearer(keys.admin))
    client.post(
        "/v1/tasks",
        json={"name": "t", "steps": [{"type": "wait", "duration": "1s"}]},
        headers=bearer(keys.writer),
    )
    queued = sent(client)
    assert [(item.hook_id, item.kind) for item in queued] == [
        (events_hook["id"], "event.created"),
        (events_hook["id"], "event.updated"),
        (events_hook["id"], "event.member.updated"),
        (events_hook["id"], "event.member.removed"),
        (events_hook["id"], "event.deleted"),
        (queued[-1].hook_id, "task.created"),
    ]
    assert queued[0].data["event"]["id"] == event["id"]
    assert queued[1].data["event"]["location"] == "Online"
    assert queued[-1].url == "https://b.example.com/"


def scoped_key(engine: Engine, *scopes: str) -> str:
    return engine.keys.create(
        type="scoped", label="hooks", environment="test", scopes=list(scopes)
    ).secret


@pytest.mark.parametrize(
    ("events", "needs"),
    [
        (["key.*"], "keys:read"),
        (["key.created"], "keys:read"),
        (["alert.raised"], "keys:read"),
        (["task.run.*", "*"], "keys:read"),
    ],
)
def test_a_hook_hears_only_what_the_key_that_registers_it_may_read(
    client: TestClient, keys: Keys, events: list[str], needs: str
) -> None:
    response = client.post(
        "/v1/hooks", json={**HOOK, "events": events}, headers=bearer(keys.writer)
    )
    assert response.status_code == 403, response.text
    error = response.json()["error"]
    assert error["code"] == "INSUFFICIENT_SCOPE"
    assert needs in error["message"]
    # The same challenge as the engine's own scope refusals.
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="api", error="insufficient_scope"'
    assert client.get("/v1/hooks", headers=bearer(keys.admin)).json()["data"] == []


def test_a_key_scoped_to_hooks_or_to_one_event_hears_no_other_events(
    client: TestClient, keys: Keys, engine: Engine
) -> None:
    event = client.post("/v1/events", json=EVENT, headers=bearer(keys.writer)).json()
    for scopes in (["hooks:write"], ["hooks:write", f"events/{event['id']}:*"]):
        refused = client.post("/v1/hooks", json=HOOK, headers=bearer(scoped_key(engine, *scopes)))
        assert refused.status_code == 403, (scopes, refused.text)
        assert "events:read" in refused.json()["error"]["message"]
    allowed = scoped_key(engine, "hooks:write", "events:read", "tasks:read")
    assert client.post("/v1/hooks", json=HOOK, headers=bearer(allowed)).status_code == 201


def test_a_token_narrowed_below_keys_read_registers_no_key_hook(
    client: TestClient, keys: Keys
) -> None:
    token = client.post(
        "/v1/auth/token", json={"scopes": ["hooks:*", "events:read"]}, headers=bearer(keys.admin)
    ).json()["access_token"]
    key_hook = {**HOOK, "events": ["key.*"]}
    assert client.post("/v1/hooks", json=key_hook, headers=bearer(token)).status_code == 403
    assert client.post("/v1/hooks", json=key_hook, headers=bearer(keys.admin)).status_code == 201


def test_a_hook_that_hears_keys_is_deleted_only_by_a_key_that_could_register_it(
    client: TestClient, keys: Keys
) -> None:
    hook = client.post(
        "/v1/hooks", json={**HOOK, "events": ["key.*"]}, headers=bearer(keys.admin)
    ).json()["hook"]
    refused = client.delete(f"/v1/hooks/{hook['id']}", headers=bearer(keys.writer))
    assert refused.status_code == 403
    assert "keys:read" in refused.json()["error"]["message"]
    assert client.get(f"/v1/hooks/{hook['id']}", headers=bearer(keys.reader)).status_code == 200
    assert client.delete(f"/v1/hooks/{hook['id']}", headers=bearer(keys.admin)).status_code == 204


def test_a_hooks_url_is_whole_once_and_read_back_without_its_secrets(
    client: TestClient, keys: Keys
) -> None:
    url = "https://hooks.example.com/tdoc?token=s3cr3t-value&team=ops"
    made = client.post("/v1/hooks", json={**HOOK, "url": url}, headers=bearer(keys.writer))
    assert made.status_code == 201, made.text
    assert made.json()["hook"]["url"] == url
    hook_id = made.json()["hook"]["id"]
    hidden = "https://hooks.example.com/tdoc?token=***&team=ops"
    one = client.get(f"/v1/hooks/{hook_id}", headers=bearer(keys.reader)).json()
    listed = client.get("/v1/hooks", headers=bearer(keys.reader)).json()["data"]
    assert one["url"] == hidden
    assert [hook["url"] for hook in listed] == [hidden]


SLACK_TOKEN = "Xk93mTqL0pZr7VbN2cYw5HdA"
GUID = "3fa85f64-5717-4562-b3fc-2c963f66afa6"


@pytest.mark.parametrize(
    ("url", "hidden", "token"),
    [
        (
            f"https://hooks.slack.com/services/T024BE7LD/B01ABCDEF/{SLACK_TOKEN}",
            "https://hooks.slack.com/services/***/***/***",
            SLACK_TOKEN,
        ),
        (
            "https://discord.com/api/webhooks/1234567890123456789/kQ3v_Zt8-aB1cD2eF3gH4iJ5kL6m",
            "https://discord.com/api/webhooks/***/***",
            "kQ3v_Zt8-aB1cD2eF3gH4iJ5kL6m",
        ),
        (
            f"https://contoso.webhook.office.com/webhookb2/{GUID}@{GUID}/IncomingWebhook/"
            f"0123456789abcdef0123456789abcdef/{GUID}",
            "https://contoso.webhook.office.com/webhookb2/***/***/***/***",
            "0123456789abcdef0123456789abcdef",
        ),
        (
            "https://prod-12.westus.logic.azure.com/workflows/0123456789abcdef0123456789abcdef/"
            f"triggers/manual/paths/invoke?api-version=2016-06-01&sig={SLACK_TOKEN}",
            "https://prod-12.westus.logic.azure.com/workflows/***/triggers/manual/paths/invoke"
            "?api-version=2016-06-01&sig=***",
            SLACK_TOKEN,
        ),
        (
            "https://hooks.zapier.com/hooks/catch/8812345/b7x9qz2/",
            "https://hooks.zapier.com/hooks/catch/***/***/",
            "b7x9qz2",
        ),
        (
            f"https://api.example.com/webhooks/{SLACK_TOKEN}",
            "https://api.example.com/webhooks/***",
            SLACK_TOKEN,
        ),
        ("https://example.com/hooks/tdoc", "https://example.com/hooks/tdoc", None),
    ],
)
def test_a_hooks_url_is_read_back_without_the_token_in_its_path(
    client: TestClient, keys: Keys, url: str, hidden: str, token: str | None
) -> None:
    made = client.post("/v1/hooks", json={**HOOK, "url": url}, headers=bearer(keys.writer))
    assert made.status_code == 201, made.text
    assert made.json()["hook"]["url"] == url  # whole, this once
    hook_id = made.json()["hook"]["id"]
    one = client.get(f"/v1/hooks/{hook_id}", headers=bearer(keys.reader))
    listed = client.get("/v1/hooks", headers=bearer(keys.reader))
    assert one.json()["url"] == hidden
    assert [hook["url"] for hook in listed.json()["data"]] == [hidden]
    if token is not None:
        assert token not in one.text
        assert token not in listed.text
    # Deliveries still go to the whole URL.
    client.post("/v1/events", json=EVENT, headers=bearer(keys.writer))
    assert [s.url for s in sent(client)] == [url]


def test_a_hooks_delivery_log_quotes_no_token_of_its_url(
    make_app: AppFactory, keys: Keys, store_url: str
) -> None:
    path = f"/services/T024BE7LD/B01ABCDEF/{SLACK_TOKEN}"
    # The receiver moved to https, and answers with the hook's own path.
    with running_receiver(Answer(301, location=f"https://hooks.slack.com{path}")) as receiver:
        settings = DeliverySettings(workers=0, allow=["127.0.0.1/32"], timeout=5.0)
        with TestClient(make_app(delivery=settings), client=CLIENT) as client:
            made = client.post(
                "/v1/hooks", json={**HOOK, "url": receiver.url(path)}, headers=bearer(keys.writer)
            )
            hook_id = made.json()["hook"]["id"]
            client.post("/v1/events", json=EVENT, headers=bearer(keys.writer))
            queue = client.app.state.services.notices.queue  # type: ignore[attr-defined]
            assert queue.run_due() == 1
            log = client.get(f"/v1/hooks/{hook_id}/deliveries", headers=bearer(keys.reader))
            # An attempt logged by an earlier release, which quoted the Location whole.
            database = sqlite3.connect(store_url.removeprefix("sqlite:///"))
            with database:
                database.execute(
                    "UPDATE policyengine_delivery_attempts SET error = ?",
                    (f"HTTP 301: redirect to https://hooks.slack.com{path} not followed",),
                )
            database.close()
            older = client.get(f"/v1/hooks/{hook_id}/deliveries", headers=bearer(keys.reader))
        assert [r.path for r in receiver.received] == [path]
    for answer, shown in (
        (log, "https://hooks.slack.com/services/***/***/***"),
        (older, "https://hooks.slack.com/services/T024BE7LD/B01ABCDEF/***"),
    ):
        assert answer.status_code == 200
        (delivery,) = answer.json()["data"]
        assert [a["error"] for a in delivery["attempts"]] == [
            f"HTTP 301: redirect to {shown} not followed"
        ]
        assert SLACK_TOKEN not in answer.text


def test_a_key_registers_at_most_twenty_hooks(client: TestClient, keys: Keys) -> None:
    # Every event goes to every hook that wants it: one key's hooks must not multiply
    # each event (or each notify step of its tasks) without bound.
    made = [
        client.post(
            "/v1/hooks",
            json={**HOOK, "url": f"https://hooks.example.com/{n}"},
            headers=bearer(keys.writer),
        )
        for n in range(21)
    ]
    assert [r.status_code for r in made] == [201] * 20 + [409]
    error = made[-1].json()["error"]
    assert error["code"] == "CONFLICT"
    assert "20 hooks" in error["message"]
    listed = client.get("/v1/hooks?limit=100", headers=bearer(keys.reader)).json()["data"]
    assert len(listed) == 20
    # Another key has its own twenty; and a key that deletes one may register one again.
    assert client.post("/v1/hooks", json=HOOK, headers=bearer(keys.admin)).status_code == 201
    first = made[0].json()["hook"]["id"]
    assert client.delete(f"/v1/hooks/{first}", headers=bearer(keys.writer)).status_code == 204
    assert client.post("/v1/hooks", json=HOOK, headers=bearer(keys.writer)).status_code == 201
