"""One HTTP face: every error in DESIGN's body with the request's id, every response with
X-Request-ID, and the rate-limit headers on every response to a key."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import APIRouter
from fastapi.testclient import TestClient

from policyengine.engine import Engine
from portal.web import DocsSite

from .conftest import CLIENT, EVENT, AppFactory, Keys, bearer

MADE_ID = re.compile(r"req_[0-9a-f]{28}")


def error_of(response: object) -> dict[str, object]:
    body = response.json()  # type: ignore[attr-defined]
    assert set(body) == {"error"}
    assert {"code", "message", "request_id"} <= set(body["error"])
    assert body["error"]["request_id"] == response.headers["X-Request-ID"]  # type: ignore[attr-defined]
    return dict(body["error"])


def test_a_request_id_is_made_when_none_is_given_and_echoed_when_one_is(
    client: TestClient, keys: Keys
) -> None:
    made = client.get("/v1/events", headers=bearer(keys.reader))
    assert MADE_ID.fullmatch(made.headers["X-Request-ID"])
    given = client.get("/v1/events", headers={**bearer(keys.reader), "X-Request-ID": "trace-42"})
    assert given.headers["X-Request-ID"] == "trace-42"
    odd = client.get("/v1/events", headers={**bearer(keys.reader), "X-Request-ID": "no spaces ok"})
    assert MADE_ID.fullmatch(odd.headers["X-Request-ID"])


@pytest.mark.parametrize(
    ("headers", "status", "code"),
    [
        ({}, 401, "MISSING_CREDENTIAL"),
        ({"Authorization": "Bearer "}, 401, "MALFORMED_CREDENTIAL"),
        ({"Authorization": "Bearer tdoc_test_nope"}, 401, "MALFORMED_CREDENTIAL"),
    ],
)
def test_the_engine_denies_with_the_same_body(
    client: TestClient, headers: dict[str, str], status: int, code: str
) -> None:
    response = client.get("/v1/events", headers={**headers, "X-Request-ID": "req-1"})
    assert response.status_code == status
    assert error_of(response)["code"] == code
    assert response.headers["X-Request-ID"] == "req-1"
    assert response.headers["WWW-Authenticate"].startswith('Bearer realm="api"')


def test_a_scope_denial_is_403_with_the_reason(client: TestClient, keys: Keys) -> None:
    response = client.post("/v1/events", json=EVENT, headers=bearer(keys.reader))
    assert response.status_code == 403
    error = error_of(response)
    assert error["code"] == "INSUFFICIENT_SCOPE"
    assert "events:write" in str(error["message"])


def test_rate_limit_headers_come_with_successes_and_errors_alike(
    client: TestClient, keys: Keys
) -> None:
    ok = client.get("/v1/events", headers=bearer(keys.reader))
    missing = client.get("/v1/events/evt_missing", headers=bearer(keys.reader))
    invalid = client.post("/v1/events", json={}, headers=bearer(keys.writer))
    for response in (ok, missing, invalid):
        assert response.headers["RateLimit-Policy"].startswith('"default";q=')
        assert response.headers["RateLimit"].startswith('"default";r=')
    assert missing.status_code == 404
    assert error_of(missing)["code"] == "RESOURCE_NOT_FOUND"


def test_over_the_limit_is_429_with_retry_after(make_app: AppFactory, engine: Engine) -> None:
    issued = engine.keys.create(
        type="read-only", label="slow", environment="test", rate_limit="2/minute"
    )
    with TestClient(make_app(), client=CLIENT) as client:
        answers = [client.get("/v1/events", headers=bearer(issued.secret)) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 429]
    assert error_of(answers[2])["code"] == "RATE_LIMITED"
    assert int(answers[2].headers["Retry-After"]) > 0


def test_a_body_that_does_not_validate_lists_every_field(client: TestClient, keys: Keys) -> None:
    response = client.post(
        "/v1/events",
        json={"name": "", "starts_at": "tomorrow", "colour": "red"},
        headers=bearer(keys.writer),
    )
    assert response.status_code == 422
    error = error_of(response)
    assert error["code"] == "INVALID_REQUEST"
    fields = {detail["field"] for detail in error["details"]}  # type: ignore[attr-defined]
    assert fields == {"name", "starts_at", "ends_at", "colour"}


def test_a_body_that_is_not_json_is_422(client: TestClient, keys: Keys) -> None:
    response = client.post(
        "/v1/events",
        content=b"{not json",
        headers={**bearer(keys.writer), "Content-Type": "application/json"},
    )
    assert response.status_code == 422
    assert error_of(response)["details"] == [
        {
            "field": "body",
            "message": "the body is not JSON: Expecting property name enclosed in double quotes",
        }
    ]


def test_a_nul_character_is_refused_not_stored(client: TestClient, keys: Keys) -> None:
    response = client.post(
        "/v1/events", json={**EVENT, "name": "a\x00b"}, headers=bearer(keys.writer)
    )
    assert response.status_code == 422
    assert client.get("/v1/events", headers=bearer(keys.reader)).json()["data"] == []


def test_a_cursor_that_is_not_ours_is_a_parameter_that_does_not_validate(
    client: TestClient, keys: Keys
) -> None:
    for path, key in (("/v1/events", keys.reader), ("/v1/keys", keys.admin)):
        response = client.get(path, params={"cursor": "abc"}, headers=bearer(key))
        assert response.status_code == 422
        (detail,) = error_of(response)["details"]  # type: ignore[misc]
        assert detail["field"] == "cursor"
        assert "next_cursor of a previous page" in detail["message"]


def test_a_body_that_is_not_utf8_is_422(client: TestClient, keys: Keys) -> None:
    response = client.post(
        "/v1/events",
        content=b'{"name": "\xff"}',
        headers={**bearer(keys.writer), "Content-Type": "application/json"},
    )
    assert response.status_code == 422
    assert error_of(response)["code"] == "INVALID_REQUEST"


def test_a_failing_route_answers_500_in_the_same_shape(
    make_app: AppFactory, keys: Keys, engine: Engine
) -> None:
    app = make_app()
    broken = APIRouter()

    @broken.get("/v1/tasks/{id}/runs/{run}")
    def explode(id: str, run: str) -> None:
        raise RuntimeError("boom")

    app.router.routes.insert(0, broken.routes[0])
    with TestClient(app, client=CLIENT, raise_server_exceptions=False) as client:
        response = client.get("/v1/tasks/tsk_1/runs/run_1", headers=bearer(keys.reader))
    assert response.status_code == 500
    error = error_of(response)
    assert error["code"] == "INTERNAL_ERROR"
    assert "boom" not in response.text
    assert response.headers["RateLimit"].startswith('"default";r=')


def test_public_paths_need_no_key(client: TestClient) -> None:
    assert client.get("/openapi.json").status_code == 200
    jwks = client.get("/.well-known/jwks.json")
    assert jwks.status_code == 200
    assert jwks.json()["keys"][0]["alg"] == "ES256"
    assert "X-Request-ID" in jwks.headers


def test_an_api_path_no_route_names_is_denied_by_the_policies(
    client: TestClient, keys: Keys
) -> None:
    response = client.get("/v1/widgets", headers=bearer(keys.admin))
    assert response.status_code == 403
    assert error_of(response)["code"] == "DENIED_BY_POLICY"
    elsewhere = client.get("/v2/events", headers=bearer(keys.admin))
    assert elsewhere.status_code == 404
    assert error_of(elsewhere)["code"] == "RESOURCE_NOT_FOUND"


def test_the_portals_pages_need_no_key_and_the_api_still_does(
    make_app: AppFactory, tmp_path: Path
) -> None:
    built = tmp_path / "docs"
    built.mkdir()
    (built / "index.html").write_text("<!doctype html><title>Docs</title><h1>docs</h1>")
    site = DocsSite(source=tmp_path / "no-sources", build=built)
    with TestClient(make_app(pages=True, docs=site), client=CLIENT) as client:
        for path in ("/", "/reference", "/console", "/keys", "/docs/"):
            page = client.get(path)
            assert page.status_code == 200, path
            assert "text/html" in page.headers["content-type"]
            assert "X-Request-ID" in page.headers
        assert client.get("/v1/events").status_code == 401
        reference = client.get("/reference").text
        assert "events:write" in reference


def test_a_body_over_a_mebibyte_is_refused_with_413(client: TestClient, keys: Keys) -> None:
    huge = {**EVENT, "description": "x" * (1024 * 1024)}
    declared = client.post("/v1/events", json=huge, headers=bearer(keys.writer))
    assert declared.status_code == 413
    assert error_of(declared)["code"] == "PAYLOAD_TOO_LARGE"

    def chunks() -> Iterator[bytes]:
        yield b'{"name": "x", "description": "'
        for _ in range(20):
            yield b"y" * 65536
        yield b'"}'

    streamed = client.post(
        "/v1/events",
        content=chunks(),
        headers={**bearer(keys.writer), "Content-Type": "application/json"},
    )
    assert streamed.status_code == 413
    assert error_of(streamed)["code"] == "PAYLOAD_TOO_LARGE"
    assert client.get("/v1/events", headers=bearer(keys.reader)).json()["data"] == []


def test_no_answer_of_the_api_is_kept_by_a_cache_or_sniffed(client: TestClient, keys: Keys) -> None:
    answers = [
        client.post("/v1/keys", json={"type": "write", "label": "ci"}, headers=bearer(keys.admin)),
        client.post("/v1/auth/token", headers=bearer(keys.reader)),
        client.get("/v1/events", headers=bearer(keys.reader)),
        client.get("/v1/events/evt_missing", headers=bearer(keys.reader)),
        client.post("/v1/events", json={}, headers=bearer(keys.writer)),
        client.get("/v1/events"),
        client.get("/v1/keys", headers=bearer(keys.reader)),
    ]
    assert [a.status_code for a in answers] == [201, 200, 200, 404, 422, 401, 403]
    for answer in answers:
        assert answer.headers["cache-control"] == "no-store", answer.request.url
        assert answer.headers["x-content-type-options"] == "nosniff", answer.request.url


def test_head_of_a_get_route_answers_as_get_without_the_body(
    client: TestClient, keys: Keys
) -> None:
    got = client.get("/v1/events", headers={**bearer(keys.reader), "X-Request-ID": "get-1"})
    head = client.head("/v1/events", headers={**bearer(keys.reader), "X-Request-ID": "head-1"})
    assert (head.status_code, head.content) == (200, b"")
    assert head.headers["content-type"] == got.headers["content-type"]
    assert head.headers["content-length"] == got.headers["content-length"]
    assert head.headers["X-Request-ID"] == "head-1"
    assert "RateLimit" in head.headers
    # The engine judges it as it judges the GET: without a key, or without the scope, no.
    assert client.head("/v1/events").status_code == 401
    assert client.head("/v1/keys", headers=bearer(keys.reader)).status_code == 403
    # Where the policies route no GET, they route no HEAD either.
    assert client.head("/v1/tokens", headers=bearer(keys.admin)).status_code == 403
