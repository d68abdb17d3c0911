"""A cap on request bodies: tDoc's bodies are small, and a body far larger than any of
them is refused before it is read whole into memory."""

from __future__ import annotations

import json

from policyengine.integrations.asgi import ASGIApp, Message, Receive, Scope, Send
from policyengine.integrations.http import error_fields
from portal.http.context import REQUEST_ID

#: The largest request body the API reads.
MAX_BODY_BYTES = 1024 * 1024
TOO_LARGE = "PAYLOAD_TOO_LARGE"


class BodyTooLarge(Exception):
    """Raised while a body is being read, once it has gone past the cap."""


class BodyLimit:
    """Answers ``413`` at once to a body whose declared length is over the cap; one sent
    in chunks raises :class:`BodyTooLarge` as its reader crosses the cap, which the API
    answers ``413`` too (see :mod:`portal.http.errors`)."""

    def __init__(self, app: ASGIApp, limit: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers", ())).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            message = f"the body is {int(declared)} bytes; at most {self.limit}"
            rid = scope.get("state", {}).get(REQUEST_ID, "")
            body = json.dumps(error_fields(TOO_LARGE, message, rid)).encode()
            headers = [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ]
            await send({"type": "http.response.start", "status": 413, "headers": headers})
            await send({"type": "http.response.body", "body": body})
            return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise BodyTooLarge(f"the body is larger than {self.limit} bytes")
            return message

        await self.app(scope, counted, send)
