"""The outermost layer of every request: its id, on the request and on every response,
and a JSON error body, instead of a bare 500, for anything that escaped the routes."""

from __future__ import annotations

import json
import logging
from collections.abc import MutableMapping
from typing import Any

from policyengine.integrations.asgi import STATE_KEY, ASGIApp, Receive, Scope, Send
from policyengine.integrations.http import error_fields, request_id

log = logging.getLogger("portal")

#: Where the request's id is kept, in the ASGI scope's ``state``.
REQUEST_ID = "request_id"

Message = MutableMapping[str, Any]


class RequestContext:
    """Gives each request an id (the caller's ``X-Request-ID`` when it is a sane token),
    written back into the request's headers so that every layer inside reads the same."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        raw = [(k, v) for k, v in scope.get("headers", ()) if k.lower() != b"x-request-id"]
        given = [v for k, v in scope.get("headers", ()) if k.lower() == b"x-request-id"]
        rid = request_id({"x-request-id": given[0].decode("latin-1")} if given else {})
        scope["headers"] = [*raw, (b"x-request-id", rid.encode())]
        state = scope.setdefault("state", {})
        state[REQUEST_ID] = rid
        started = False

        async def send_with_id(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = [
                    (k, v) for k, v in message.get("headers", ()) if k.lower() != b"x-request-id"
                ]
                message = {**message, "headers": [*headers, (b"x-request-id", rid.encode())]}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            log.exception("request %s failed", rid)
            if started:
                raise
            await _server_error(send_with_id, rid, state)


async def _server_error(send: Send, rid: str, state: MutableMapping[str, Any]) -> None:
    message = "the server failed to answer; quote the request id to support"
    body = json.dumps(error_fields("INTERNAL_ERROR", message, rid)).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    decision = state.get(STATE_KEY)
    if decision is not None:
        headers += [(k.lower().encode(), v.encode()) for k, v in decision.headers.items()]
    await send({"type": "http.response.start", "status": 500, "headers": headers})
    await send({"type": "http.response.body", "body": body})
