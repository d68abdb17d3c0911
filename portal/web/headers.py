"""What every page tells the browser about itself: run only the portal's own scripts,
never inside another site's frame, never sniffed as another type.

The pages hold API keys in the tab, so a page framed by another site could be clicked
through a rotation or a revocation, and an injected script could read the keys: the
policy allows scripts from the portal alone, no inline script, no plugin, no ``<base>``,
and no framing. Inline ``style`` attributes stay allowed (bars and colour probes set
them); ``<style>`` elements do not. The Sphinx theme at ``/docs`` runs inline scripts of
its own, so there only framing, plugins and sniffing are forbidden.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

PAGE_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "style-src-attr 'unsafe-inline'",
        "img-src 'self' data:",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
DOCS_POLICY = "object-src 'none'; base-uri 'self'; frame-ancestors 'none'"

_EVERY = ((b"x-content-type-options", b"nosniff"),)
_PAGE = (
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
)


class PageHeaders:
    """Adds the headers to every answer: ``nosniff`` to all, and to each HTML page its
    content security policy, ``X-Frame-Options`` and ``Referrer-Policy``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        docs = scope["path"] == "/docs" or scope["path"].startswith("/docs/")
        policy = (DOCS_POLICY if docs else PAGE_POLICY).encode()

        async def send_with_headers(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                names = {name.lower() for name, _ in headers}
                added = [h for h in _EVERY if h[0] not in names]
                if _is_html(headers):
                    added += [h for h in _PAGE if h[0] not in names]
                    if b"content-security-policy" not in names:
                        added.append((b"content-security-policy", policy))
                message = {**message, "headers": [*headers, *added]}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _is_html(headers: list[tuple[bytes, bytes]]) -> bool:
    return any(
        name.lower() == b"content-type" and value.lower().startswith(b"text/html")
        for name, value in headers
    )
