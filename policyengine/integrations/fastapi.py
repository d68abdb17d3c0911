"""A FastAPI dependency: ``Depends(Authorize(engine))`` on a route checks its request, by an
explicit scope or by the routes of the policy files, and hands the route the decision.

Call :func:`install` once on the application: denials are then answered with DESIGN's
JSON error body (without it FastAPI answers with the right status and headers, the body
nested under ``detail``), and the engine is closed when the server stops, which writes the
keys' last-use times it holds.
"""

from __future__ import annotations

from fastapi import FastAPI, HTTPException
from fastapi import Request as HTTPRequest
from fastapi.responses import JSONResponse, Response

from policyengine.decision import Decision
from policyengine.engine import Engine
from policyengine.errors import InvalidValue
from policyengine.integrations.http import (
    bearer,
    denial_headers,
    encoded_headers,
    error_document,
    request_id,
    scope_headers,
)
from policyengine.integrations.lifespan import closing, decide
from policyengine.request import Request


class PolicyDenied(HTTPException):
    def __init__(self, decision: Decision, request_id: str, realm: str) -> None:
        self.decision = decision
        self.request_id = request_id
        super().__init__(
            decision.status,
            detail=error_document(decision, request_id),
            headers={**denial_headers(decision, realm), "X-Request-ID": request_id},
        )


class Authorize:
    """``Depends(Authorize(engine))`` checks by the policies' routes;
    ``Depends(Authorize(engine, "events/{id}:read"))`` asks for that scope, naming a path
    parameter as the instance. A check that would wait for the key store runs in a worker
    thread, never on the event loop."""

    def __init__(self, engine: Engine, scope: str | None = None, *, realm: str = "api") -> None:
        self.engine = engine
        self.realm = realm
        self.resource: str | None = None
        self.action: str | None = None
        if scope is not None:
            resource, separator, action = scope.rpartition(":")
            if not separator or not resource or not action or "*" in scope:
                raise InvalidValue(f"scope {scope!r} must be resource:action, such as events:read")
            self.resource, self.action = resource, action

    async def __call__(self, request: HTTPRequest, response: Response) -> Decision:
        # Straight from the ASGI scope: ``request.method``, ``.client`` and ``.url`` build
        # objects per request, and the URL re-encodes the decoded path the app routes on.
        scope = request.scope
        headers = scope_headers(scope)
        resource = self.resource
        if resource is not None:
            resource = resource.format_map(_Params(request.path_params))
        rid = request_id(headers)
        client = scope.get("client")
        asked = Request(
            credential=bearer(headers.get("authorization")),
            method=scope["method"] if resource is None else None,
            path=scope["path"] if resource is None else None,
            resource=resource,
            action=self.action,
            ip=client[0] if client else None,
            headers=headers,
            request_id=rid,
        )
        decision = await decide(self.engine, asked)
        if not decision.allowed:
            raise PolicyDenied(decision, rid, self.realm)
        request.state.policyengine_decision = decision
        raw = response.raw_headers
        if raw:
            # Headers set by another dependency: ours replace any of the same name.
            response.headers.update(decision.headers)
            # The id that finds this decision again, as a denial carries it.
            response.headers.setdefault("X-Request-ID", rid)
        else:
            raw += encoded_headers(decision.headers)
            raw.append((b"x-request-id", rid.encode()))
        return decision


class _Params(dict[str, str]):
    def __init__(self, params: dict[str, object]) -> None:
        super().__init__({k: str(v) for k, v in params.items()})

    def __missing__(self, name: str) -> str:
        raise InvalidValue(f"the route has no path parameter '{name}'")


async def _answer(request: HTTPRequest, error: Exception) -> JSONResponse:
    assert isinstance(error, PolicyDenied)
    return JSONResponse(error.detail, status_code=error.status_code, headers=error.headers)


def install(app: FastAPI, engine: Engine) -> None:
    """Answer denials with ``{"error": {"code", "message", "request_id"}}``, and close
    ``engine`` when the server stops, after the application's own lifespan."""
    app.add_exception_handler(PolicyDenied, _answer)
    app.router.lifespan_context = closing(engine, app.router.lifespan_context)
