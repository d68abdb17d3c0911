"""An ASGI middleware that checks every HTTP request of any ASGI application.

An allowed request reaches the application with the decision in
``scope["state"]["policyengine.decision"]`` and the rate-limit headers added to its
response; a denied one is answered here, with DESIGN's JSON error body. When the server
shuts the application down (the ASGI lifespan protocol), the engine is closed after it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any

from policyengine.decision import Decision
from policyengine.engine import Engine
from policyengine.errors import InvalidValue
from policyengine.integrations.http import (
    bearer,
    denial_headers,
    encoded_headers,
    error_body,
    request_id,
    scope_headers,
)
from policyengine.integrations.lifespan import close, decide
from policyengine.request import Request, path_problem

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

STATE_KEY = "policyengine.decision"


class PolicyMiddleware:
    """``exclude`` lists paths that are not checked (health checks, docs), each with
    everything below it: ``/healthz`` excludes ``/healthz`` and ``/healthz/live`` but not
    ``/healthz-admin``. A path the engine would refuse (``..``, ``//``, …) is never excluded.
    A check that would wait for the key store runs in a worker thread, never on the event
    loop."""

    def __init__(
        self,
        app: ASGIApp,
        engine: Engine,
        *,
        exclude: Iterable[str] = (),
        realm: str = "api",
    ) -> None:
        self.app = app
        self.engine = engine
        self.exclude = _excluded_paths(exclude)
        self.realm = realm

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.app(scope, receive, self._closing(send))
            return
        if scope["type"] != "http" or (self.exclude and _is_excluded(scope["path"], self.exclude)):
            await self.app(scope, receive, send)
            return
        headers = scope_headers(scope)
        rid = request_id(headers)
        request = Request(
            credential=bearer(headers.get("authorization")),
            method=scope["method"],
            path=scope["path"],
            ip=scope["client"][0] if scope.get("client") else None,
            headers=headers,
            request_id=rid,
        )
        decision = await decide(self.engine, request)
        if not decision.allowed:
            await _deny(send, decision, rid, self.realm)
            return
        scope.setdefault("state", {})[STATE_KEY] = decision
        extra = encoded_headers(decision.headers)
        # The id that finds this decision again (``X-Request-ID``), unless the application
        # answers one of its own.
        given_id = (b"x-request-id", rid.encode())

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                if any(name.lower() == b"x-request-id" for name, _ in headers):
                    headers += extra
                else:
                    headers += [*extra, given_id]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)

    def _closing(self, send: Send) -> Send:
        """``send`` for the lifespan: the engine is closed once the application has shut
        down, before the server hears that it has."""

        async def send_after_closing(message: Message) -> None:
            if message["type"] in ("lifespan.shutdown.complete", "lifespan.shutdown.failed"):
                await close(self.engine)
            await send(message)

        return send_after_closing


def _excluded_paths(exclude: Iterable[str]) -> tuple[str, ...]:
    if isinstance(exclude, str):
        raise InvalidValue(f"exclude takes a list of paths, not the string {exclude!r}")
    paths = []
    for path in exclude:
        if not isinstance(path, str) or not path.startswith("/") or path_problem(path):
            raise InvalidValue(f"exclude takes paths such as '/healthz', not {path!r}")
        paths.append(path.rstrip("/"))
    return tuple(paths)


def _is_excluded(path: str, exclude: tuple[str, ...]) -> bool:
    # Whole segments: the excluded path itself, or anything below it.
    return (
        any(path == prefix or path.startswith(f"{prefix}/") for prefix in exclude)
        and path_problem(path) is None
    )


async def _deny(send: Send, decision: Decision, rid: str, realm: str) -> None:
    body = error_body(decision, rid)
    headers = {
        "content-type": "application/json",
        "content-length": str(len(body)),
        "x-request-id": rid,
        **{k.lower(): v for k, v in denial_headers(decision, realm).items()},
    }
    await send(
        {
            "type": "http.response.start",
            "status": decision.status,
            "headers": [(k.encode(), v.encode()) for k, v in headers.items()],
        }
    )
    await send({"type": "http.response.body", "body": body})
