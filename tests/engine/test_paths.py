"""A request's path is checked as the application will route it: decoded, without a query,
and refused when it could mean another path to anything that normalises it later."""

import json
from collections.abc import Callable
from typing import Annotated, Any

import pytest
from conftest import call_asgi
from fastapi import Depends, FastAPI
from starlette.applications import Starlette
from starlette.requests import Request as StarletteRequest
from starlette.responses import JSONResponse
from starlette.routing import Route

from policyengine.decision import Code, Decision
from policyengine.engine import Engine
from policyengine.integrations.asgi import PolicyMiddleware
from policyengine.integrations.fastapi import Authorize, install
from policyengine.request import Request, path_problem

CLIENT = "203.0.113.9"

# Each is a path as ASGI hands it over: already percent-decoded.
REFUSED = [
    "/v1/events?/../keys",  # GET /v1/events%3F/../keys
    "/v1/events/evt_42?/../evt_43",
    "/v1/events/evt_42/../evt_43",
    "/v1/events/./evt_42",
    "/v1/events/..",
    "/v1/events/..;/keys",
    "/v1//events",
    "/v1/events//",
    "//v1/events",
    "/v1/events#x",
    "/v1/events/evt_42%2F..%2Fevt_43",  # GET …%252F…: a later decoding would make slashes
    "/v1/events/evt_42%5c",
    "/v1/events/%2e%2e",
    "/v1/events\\evt_42",
    "/v1/events/evt_42\x00",
    "/v1/events/evt_42\n",
    "/v1/events/evt\x7f",
    "/v1/events/evt\x85",
    "v1/events",
    "",
]
ACCEPTED = ["/", "/v1/events", "/v1/events/", "/v1/events/evt_42", "/v1/events/evt.42", "/v1/a%zz"]


@pytest.mark.parametrize("path", REFUSED)
def test_a_path_that_could_change_meaning_is_refused(path: str) -> None:
    assert path_problem(path) is not None


@pytest.mark.parametrize("path", ACCEPTED)
def test_plain_paths_are_accepted(path: str) -> None:
    assert path_problem(path) is None


def reader(engine: Engine) -> str:
    return engine.keys.create(type="read-only", label="r", environment="live").secret


def scoped_to_evt_42(engine: Engine) -> str:
    """A live key that may delete one event, from the client's network."""
    return engine.keys.create(
        type="scoped",
        label="s",
        environment="live",
        scopes=["events/evt_42:delete"],
        allowed_ips=["203.0.113.0/24"],
    ).secret


def test_a_query_in_the_path_is_not_cut_off(engine: Engine) -> None:
    decision = engine.check(
        Request(credential=reader(engine), method="GET", path="/v1/events?/../keys", ip=CLIENT)
    )
    assert decision.code is Code.DENIED_BY_POLICY
    assert decision.step == "scope"
    assert str(decision.rule) == "path"
    assert decision.reason == "the path '/v1/events?/../keys' is refused: it holds a '?'"


def test_a_key_scoped_to_one_event_cannot_reach_another(engine: Engine) -> None:
    scoped = scoped_to_evt_42(engine)
    for path in ["/v1/events/evt_42?/../evt_43", "/v1/events/evt_42/../evt_43"]:
        decision = engine.check(Request(credential=scoped, method="DELETE", path=path, ip=CLIENT))
        assert (decision.code, str(decision.rule)) == (Code.DENIED_BY_POLICY, "path")
    assert engine.check(
        Request(credential=scoped, method="DELETE", path="/v1/events/evt_42", ip=CLIENT)
    ).allowed


def test_the_path_is_checked_after_the_credential(engine: Engine) -> None:
    decision = engine.check(Request(method="GET", path="/v1/events/../keys", ip=CLIENT))
    assert decision.code is Code.MISSING_CREDENTIAL


# The integrations, called as a server calls them: with the decoded path in the scope.


def catch_all_fastapi(engine: Engine) -> FastAPI:
    app = FastAPI()
    install(app, engine)

    @app.api_route("/v1/{rest:path}", methods=["GET", "DELETE"])
    async def anything(rest: str, decision: Annotated[Decision, Depends(Authorize(engine))]) -> str:
        return rest

    return app


def catch_all_asgi(engine: Engine) -> PolicyMiddleware:
    async def anything(request: StarletteRequest) -> JSONResponse:
        return JSONResponse(request.scope["path"])

    app = Starlette(routes=[Route("/v1/{rest:path}", anything, methods=["GET", "DELETE"])])
    return PolicyMiddleware(app, engine)


@pytest.mark.parametrize("build", [catch_all_fastapi, catch_all_asgi])
def test_integrations_hand_the_engine_the_decoded_path(
    engine: Engine, build: Callable[[Engine], Any]
) -> None:
    app = build(engine)
    secret = reader(engine)
    assert call_asgi(app, "GET", "/v1/events", secret)[0] == 200
    status, body = call_asgi(app, "GET", "/v1/events?/../keys", secret)
    assert status == 403
    # The engine saw the path exactly as the application routes on it.
    assert json.loads(body)["error"] == {
        "code": "DENIED_BY_POLICY",
        "message": "the path '/v1/events?/../keys' is refused: it holds a '?'",
        "request_id": json.loads(body)["error"]["request_id"],
    }
    scoped = scoped_to_evt_42(engine)
    assert call_asgi(app, "DELETE", "/v1/events/evt_42", scoped)[0] == 200
    # The engine judges the path the application routes on: decoded, whatever the raw form.
    assert (
        call_asgi(app, "DELETE", "/v1/events/evt_42", scoped, raw=b"/v1/events/evt%5F42")[0] == 200
    )
    assert call_asgi(app, "DELETE", "/v1/events/evt_42?/../evt_43", scoped)[0] == 403
    assert call_asgi(app, "DELETE", "/v1/events/evt_42/../evt_43", scoped)[0] == 403
