"""The FastAPI dependency and the ASGI middleware, over real HTTP semantics."""

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import pytest
from conftest import POLICIES, SECRET, call_asgi
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient
from starlette.requests import Request as StarletteRequest
from starlette.responses import JSONResponse
from starlette.routing import Route

from policyengine.decision import Decision
from policyengine.engine import Engine
from policyengine.errors import InvalidValue
from policyengine.integrations.asgi import STATE_KEY, PolicyMiddleware
from policyengine.integrations.fastapi import Authorize, install


def fastapi_app(engine: Engine) -> FastAPI:
    app = FastAPI()
    install(app, engine)

    by_routes = Annotated[Decision, Depends(Authorize(engine))]
    delete_scope = Annotated[Decision, Depends(Authorize(engine, "events/{event}:delete"))]

    @app.get("/v1/events")
    async def list_events(decision: by_routes) -> dict[str, str]:
        assert decision.key is not None
        return {"key": decision.key.id}

    @app.delete("/v1/events/{event}")
    async def delete_event(event: str, decision: delete_scope) -> dict[str, str]:
        return {"deleted": event}

    return app


def asgi_app(engine: Engine) -> PolicyMiddleware:
    async def events(request: StarletteRequest) -> JSONResponse:
        decision = request.scope["state"][STATE_KEY]
        return JSONResponse({"key": decision.key.id})

    async def health(request: StarletteRequest) -> JSONResponse:
        return JSONResponse({"ok": True})

    from starlette.applications import Starlette

    app = Starlette(routes=[Route("/v1/events", events), Route("/healthz", health)])
    return PolicyMiddleware(app, engine, exclude=["/healthz"])


@pytest.fixture(params=["fastapi", "asgi"])
def client(request: pytest.FixtureRequest, engine: Engine) -> Iterator[TestClient]:
    app = fastapi_app(engine) if request.param == "fastapi" else asgi_app(engine)
    with TestClient(app, client=("203.0.113.9", 50000)) as test_client:
        yield test_client


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def test_an_allowed_request_reaches_the_route_with_rate_limit_headers(
    client: TestClient, engine: Engine
) -> None:
    issued = engine.keys.create(
        type="read-only", label="x", environment="live", rate_limit="5/minute"
    )
    response = client.get("/v1/events", headers=bearer(issued.secret))
    assert response.status_code == 200
    assert response.json() == {"key": issued.key.id}
    assert response.headers["RateLimit-Policy"] == '"default";q=5;w=60'
    assert response.headers["RateLimit"] == '"default";r=4;t=12'


def test_each_header_of_an_allowed_response_is_sent_once(
    client: TestClient, engine: Engine
) -> None:
    issued = engine.keys.create(
        type="read-only", label="x", environment="live", rate_limit="5/minute"
    )
    for remaining, full_in in ((4, 12), (3, 24)):
        response = client.get("/v1/events", headers=bearer(issued.secret))
        assert response.status_code == 200
        assert response.headers.get_list("RateLimit") == [f'"default";r={remaining};t={full_in}']
        assert len(response.headers.get_list("RateLimit-Policy")) == 1
        assert len(response.headers.get_list("X-Request-ID")) == 1


def test_the_dependency_keeps_headers_another_dependency_set(engine: Engine) -> None:
    from fastapi import Response

    def traced(response: Response) -> None:
        response.headers["X-Trace"] = "t-1"
        response.headers["RateLimit"] = "stale"

    app = FastAPI()
    install(app, engine)

    @app.get("/v1/events", dependencies=[Depends(traced), Depends(Authorize(engine))])
    async def list_events() -> dict[str, str]:
        return {}

    issued = engine.keys.create(
        type="read-only", label="x", environment="live", rate_limit="5/minute"
    )
    with TestClient(app, client=("203.0.113.9", 50000)) as client:
        response = client.get(
            "/v1/events", headers={**bearer(issued.secret), "X-Request-ID": "r-1"}
        )
    assert response.status_code == 200
    assert response.headers.get_list("X-Trace") == ["t-1"]
    # The decision's own RateLimit replaces one set before it, never sits beside it.
    assert response.headers.get_list("RateLimit") == ['"default";r=4;t=12']
    assert response.headers.get_list("X-Request-ID") == ["r-1"]


def test_an_allowed_response_carries_the_request_id_its_decision_is_recorded_under(
    client: TestClient, engine: Engine
) -> None:
    issued = engine.keys.create(type="read-only", label="x", environment="live")
    given = client.get("/v1/events", headers={**bearer(issued.secret), "X-Request-ID": "req-7"})
    made = client.get("/v1/events", headers=bearer(issued.secret))
    assert given.status_code == made.status_code == 200
    assert given.headers.get_list("X-Request-ID") == ["req-7"]
    (made_id,) = made.headers.get_list("X-Request-ID")
    engine.flush()
    recorded = [getattr(a, "request_id", None) for a in engine.monitor.activity(issued.key.id)]
    assert {"req-7", made_id} <= set(recorded)


def test_an_application_that_answers_its_own_request_id_keeps_it(engine: Engine) -> None:
    async def own(request: StarletteRequest) -> JSONResponse:
        return JSONResponse({}, headers={"X-Request-ID": "app-1"})

    from starlette.applications import Starlette

    app = PolicyMiddleware(Starlette(routes=[Route("/v1/events", own)]), engine)
    issued = engine.keys.create(type="read-only", label="x", environment="live")
    with TestClient(app, client=("203.0.113.9", 50000)) as client:
        response = client.get("/v1/events", headers=bearer(issued.secret))
    assert response.status_code == 200
    assert response.headers.get_list("X-Request-ID") == ["app-1"]


def test_no_credential_is_401_with_a_bearer_challenge(client: TestClient) -> None:
    response = client.get("/v1/events", headers={"X-Request-ID": "req-123"})
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="api"'
    assert response.json() == {
        "error": {
            "code": "MISSING_CREDENTIAL",
            "message": "no API key was presented",
            "request_id": "req-123",
        }
    }


@pytest.mark.parametrize(
    "authorization",
    ["Bearer tdoc_live_nope", "Basic dXNlcjpwYXNz", "Bearer", "bearer  tdoc_test_" + "x" * 36],
)
def test_a_bad_credential_is_401_invalid_token(client: TestClient, authorization: str) -> None:
    response = client.get("/v1/events", headers={"Authorization": authorization})
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith(
        'Bearer realm="api", error="invalid_token"'
    )
    body = response.json()["error"]
    assert body["code"] == "MALFORMED_CREDENTIAL"
    assert len(body["request_id"]) == 32


def test_denials_are_403_and_429_with_their_codes(client: TestClient, engine: Engine) -> None:
    elsewhere = engine.keys.create(
        type="read-only", label="x", environment="live", allowed_ips=["198.51.100.0/24"]
    )
    response = client.get("/v1/events", headers=bearer(elsewhere.secret))
    assert (response.status_code, response.json()["error"]["code"]) == (403, "IP_NOT_ALLOWED")
    slow = engine.keys.create(
        type="read-only", label="x", environment="live", rate_limit="1/minute"
    )
    assert client.get("/v1/events", headers=bearer(slow.secret)).status_code == 200
    limited = client.get("/v1/events", headers=bearer(slow.secret))
    assert limited.status_code == 429
    assert limited.json()["error"]["code"] == "RATE_LIMITED"
    assert limited.headers["Retry-After"] == "60"
    assert limited.headers["RateLimit"] == '"default";r=0;t=60'


def test_an_explicit_scope_names_the_path_parameter_as_instance(engine: Engine) -> None:
    key = engine.keys.create(
        type="scoped",
        label="x",
        environment="live",
        scopes=["events/evt_1:delete"],
        allowed_ips=["203.0.113.0/24"],
    )
    with TestClient(fastapi_app(engine), client=("203.0.113.9", 50000)) as client:
        assert client.delete("/v1/events/evt_1", headers=bearer(key.secret)).status_code == 200
        denied = client.delete("/v1/events/evt_2", headers=bearer(key.secret))
        assert denied.status_code == 403
        assert denied.json()["error"]["code"] == "INSUFFICIENT_SCOPE"
        assert (
            denied.headers["WWW-Authenticate"] == 'Bearer realm="api", error="insufficient_scope"'
        )


def test_the_middleware_skips_excluded_paths(engine: Engine) -> None:
    with TestClient(asgi_app(engine)) as client:
        assert client.get("/healthz").json() == {"ok": True}


def test_a_failing_engine_answers_503(
    client: TestClient, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    issued = engine.keys.create(type="read-only", label="x", environment="live")
    monkeypatch.setattr(engine.limiter, "acquire", lambda *a, **k: 1 / 0)
    response = client.get("/v1/events", headers=bearer(issued.secret))
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "UNAVAILABLE"


def test_forwarded_for_is_ignored_without_trusted_proxies(
    client: TestClient, engine: Engine
) -> None:
    issued = engine.keys.create(
        type="read-only", label="x", environment="live", allowed_ips=["198.51.100.0/24"]
    )
    headers = {**bearer(issued.secret), "X-Forwarded-For": "198.51.100.7"}
    assert client.get("/v1/events", headers=headers).status_code == 403


@pytest.mark.parametrize("kind", ["fastapi", "asgi"])
def test_every_line_of_a_repeated_forwarding_header_is_read(kind: str) -> None:
    # HAProxy's ``option forwardfor`` adds a line per proxy rather than extending one.
    with Engine.from_directory(
        POLICIES,
        environment="live",
        store="memory://",
        secret=SECRET,
        trusted_proxies=["10.0.0.0/8"],
        maintenance_interval=None,
    ) as engine:
        issued = engine.keys.create(
            type="read-only", label="x", environment="live", allowed_ips=["198.51.100.0/24"]
        )
        app = fastapi_app(engine) if kind == "fastapi" else asgi_app(engine)
        lines = [("X-Forwarded-For", v) for v in ["192.0.2.1", "198.51.100.7", "10.0.0.9"]]
        with TestClient(app, client=("10.0.0.5", 50000)) as client:
            response = client.get(
                "/v1/events", headers=[("Authorization", f"Bearer {issued.secret}"), *lines]
            )
        assert response.status_code == 200, response.text


def test_exclude_matches_whole_path_segments(engine: Engine) -> None:
    async def open_route(request: StarletteRequest) -> JSONResponse:
        return JSONResponse({"open": request.url.path})

    from starlette.applications import Starlette

    app = Starlette(routes=[Route("/{rest:path}", open_route)])
    protected = PolicyMiddleware(app, engine, exclude=["/healthz", "/docs/"])
    with TestClient(protected) as client:
        for path in ["/healthz", "/healthz/live", "/docs", "/docs/index.html"]:
            assert client.get(path).status_code == 200, path
        for path in ["/healthz-admin", "/healthzz", "/healthz-admin/keys", "/documents", "/"]:
            response = client.get(path)
            assert response.status_code == 401, path
            assert response.json()["error"]["code"] == "MISSING_CREDENTIAL"


def test_a_path_the_engine_refuses_is_never_excluded(engine: Engine) -> None:
    issued = engine.keys.create(type="read-only", label="x", environment="live")
    protected = asgi_app(engine)
    for path in ["/healthz/../v1/keys", "/healthz/%2e%2e/v1/keys", "/healthz//x"]:
        status, body = call_asgi(protected, "GET", path, issued.secret)
        assert status == 403, path
        assert json.loads(body)["error"]["code"] == "DENIED_BY_POLICY"


@pytest.mark.parametrize("exclude", [["healthz"], "/healthz", [""]])
def test_exclude_takes_a_list_of_absolute_paths(engine: Engine, exclude: object) -> None:
    with pytest.raises(InvalidValue, match="exclude"):
        PolicyMiddleware(asgi_app(engine), engine, exclude=exclude)  # type: ignore[arg-type]


def test_the_decision_record_carries_the_responses_request_id(
    client: TestClient, engine: Engine
) -> None:
    given = client.get("/v1/events", headers={"X-Request-ID": "req-given"})
    made = client.get("/v1/events")
    engine.flush()
    recorded = [r.request_id for r in engine.monitor.address_activity()]
    assert recorded == [made.json()["error"]["request_id"], "req-given"]
    assert given.json()["error"]["request_id"] == "req-given"


@pytest.mark.parametrize("kind", ["fastapi", "asgi"])
def test_the_engine_is_closed_at_shutdown_and_last_use_is_written(
    kind: str, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'keys.db'}"
    engine = Engine.from_directory(
        POLICIES, environment="live", store=url, secret=SECRET, maintenance_interval=None
    )
    try:
        issued = engine.keys.create(type="read-only", label="used", environment="live")
        app = fastapi_app(engine) if kind == "fastapi" else asgi_app(engine)
        with TestClient(app, client=("203.0.113.9", 50000)) as client:
            assert client.get("/v1/events", headers=bearer(issued.secret)).status_code == 200
            assert engine.keys.get(issued.key.id).last_used_at is None  # noted, not written
        with Engine.from_directory(
            POLICIES, store=url, secret=SECRET, maintenance_interval=None
        ) as reader:
            assert reader.keys.get(issued.key.id).last_used_at is not None
    finally:
        engine.close()  # harmless when the shutdown closed it already
