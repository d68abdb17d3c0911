"""The portal's pages, their assets and the built docs, added to an application with
``install(app)``: the reference, console, your calls and key pages at ``/``, assets at
``/static``, the Sphinx site at ``/docs``."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse
from starlette.staticfiles import StaticFiles
from starlette.types import Receive, Scope, Send

from portal.web.docs import DocsApp, DocsSite
from portal.web.headers import PageHeaders
from portal.web.pages import HERE, KeyType, PortalConfig, make_router, templates

__all__ = ["PAGE_PREFIXES", "DocsSite", "KeyType", "PortalConfig", "install"]

#: Paths of the portal itself, answered without a key (the API is under ``/v1``).
PAGE_PREFIXES = ("/reference", "/console", "/calls", "/keys", "/static/", "/docs", "/portal/")


def install(
    app: FastAPI, config: PortalConfig | None = None, docs: DocsSite | None = None
) -> DocsSite:
    """Add the pages to ``app``, with the headers that keep them from being framed or
    scripted from elsewhere; start building the docs if they are missing or stale."""
    site = docs or DocsSite()
    app.add_middleware(PageHeaders)
    app.include_router(make_router(config))
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")

    async def pending(scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        response: HTMLResponse = templates.TemplateResponse(
            request,
            "docs_pending.html",
            {"site": site, "config": config or PortalConfig(), "nav": "docs"},
            status_code=503,
            headers={"Retry-After": "5"},
        )
        await response(scope, receive, send)

    app.mount("/docs", DocsApp(site, pending), name="docs")
    site.ensure()
    return site
