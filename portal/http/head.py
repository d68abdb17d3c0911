"""``HEAD`` of every ``GET`` route (RFC 9110, 9.3.2): answered as ``GET`` would be, the same
status and headers, without the body.

The engine has already judged the request as a ``HEAD``, which its routes read as the
``GET`` of the same path; the routes below are declared for ``GET`` alone, and would
otherwise answer ``405`` to a request the engine let in and counted against its limits.
"""

from __future__ import annotations

from policyengine.integrations.asgi import ASGIApp, Message, Receive, Scope, Send


class HeadAsGet:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return

        async def headless(message: Message) -> None:
            # The server drops a HEAD's body too; the length stays the GET's.
            if message["type"] == "http.response.body" and message.get("body"):
                message = {**message, "body": b""}
            await send(message)

        await self.app({**scope, "method": "GET"}, receive, headless)
