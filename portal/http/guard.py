"""The engine in front of the API: every request to a path of the API (``/v1/…``) is
checked by the engine's middleware; the portal's pages, their assets and the docs, the
OpenAPI document and the public signing keys are answered without a key.

Only paths under ``/v1/`` reach the API's routes, so nothing the API serves can be
reached around the check. No answer of the API may be kept by a cache (it may hold a
secret shown once, or what only its key may read) or read as another type than it says.
"""

from __future__ import annotations

from policyengine.engine import Engine
from policyengine.integrations.asgi import (
    ASGIApp,
    Message,
    PolicyMiddleware,
    Receive,
    Scope,
    Send,
)

API_PREFIX = "/v1"
_PRIVATE = ((b"cache-control", b"no-store"), (b"x-content-type-options", b"nosniff"))


def is_api(path: str) -> bool:
    return path == API_PREFIX or path.startswith(API_PREFIX + "/")


class ApiGuard:
    def __init__(self, app: ASGIApp, engine: Engine) -> None:
        self.app = app
        # The middleware decides a cached key inline and waits for the store only in a
        # worker thread, never on the event loop.
        self.checked = PolicyMiddleware(app, engine)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and is_api(scope["path"]):
            await self.checked(scope, receive, _private(send))
        else:
            await self.app(scope, receive, send)


def _private(send: Send) -> Send:
    async def send_private(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = [
                (name, value)
                for name, value in message.get("headers", ())
                if name.lower() not in (b"cache-control", b"x-content-type-options")
            ]
            message = {**message, "headers": [*headers, *_PRIVATE]}
        await send(message)

    return send_private
