"""The portal's pages: home, reference, console, your calls, keys, one key; and the code
samples of any request, for the console. Every page is a route of this router, outside the
API's OpenAPI document; their data comes from the API itself, in the browser, with the
reader's key."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.templating import Jinja2Templates

from policyengine.errors import InvalidValue
from policyengine.integrations.http import error_fields, request_id
from portal.samples import LANGUAGES, build
from portal.web.highlight import highlight
from portal.web.reference import Operation, Reference, read

HERE = Path(__file__).resolve().parent
templates = Jinja2Templates(directory=HERE / "templates")
#: The largest console request the samples endpoint writes out: anyone may ask, and a
#: request a person composes is a few kilobytes.
MAX_SAMPLES_REQUEST = 32 * 1024
#: The base URL the reference's samples are written against once; each page puts the
#: reader's own base in its place. Every language writes it, and Pygments colours it, as
#: it is: it holds no character any of them quotes or escapes.
SAMPLE_BASE = "http://tdoc.invalid"
#: A base URL that every sample's literals hold as it is: a scheme, a host name or address,
#: a port, and a path of plain segments. The base comes from the request's Host header,
#: which anyone sets; any other is replaced by the server's own address.
_PLAIN_BASE = re.compile(
    r"https?://(?:[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?|\[[0-9A-Fa-f:.]+\])"
    r"(?::[0-9]{1,5})?(?:/[A-Za-z0-9._~-]+)*"
)
templates.env.filters["tojson_pretty"] = lambda v: json.dumps(v, indent=2, ensure_ascii=False)


@dataclass(frozen=True)
class KeyType:
    name: str
    description: str = ""
    scopes: tuple[str, ...] = ()
    #: ``True`` when a key of this type carries its own scopes (within ``scopes``).
    own_scopes: bool = False


@dataclass(frozen=True)
class PortalConfig:
    """What the pages say about the API they serve: its key types (for the create form),
    the environment it runs in, and the scopes a key may be given."""

    key_types: tuple[KeyType, ...] = ()
    environment: str = "test"
    scopes: tuple[str, ...] = ()
    name: str = "tDoc"


@dataclass
class _Cache:
    doc: Mapping[str, Any] | None = None
    reference: Reference | None = None
    #: Every operation's samples against :data:`SAMPLE_BASE`, written once per document.
    samples: dict[str, list[dict[str, Any]]] | None = None

    def samples_at(self, base: str, reference: Reference) -> dict[str, list[dict[str, Any]]]:
        """Every operation's samples against ``base`` (a :func:`plain_base`): written
        once, whatever the base, so that no Host header makes the server write them again."""
        if self.samples is None:
            self.samples = {
                op.id: operation_samples(SAMPLE_BASE, op) for op in reference.operations
            }
        return {
            op_id: [rebased(sample, base) for sample in found]
            for op_id, found in self.samples.items()
        }


def rebased(sample: dict[str, Any], base: str) -> dict[str, Any]:
    """A sample written against :data:`SAMPLE_BASE`, against ``base`` instead."""
    return {
        **sample,
        "code": sample["code"].replace(SAMPLE_BASE, base),
        "html": sample["html"].replace(SAMPLE_BASE, html.escape(base)),
    }


def plain_base(url: str, server: tuple[str, int | None] | None, scheme: str) -> str:
    """``url`` (the request's base, from its Host header) if it is a plain base URL, else
    the server's own address: a base that samples could not hold as it is never reaches
    them, nor costs a rendering of its own."""
    url = url.rstrip("/")
    if _PLAIN_BASE.fullmatch(url):
        return url
    own = f"{scheme}://localhost"
    if server is not None:
        host, port = server
        host = f"[{host}]" if ":" in host else host
        address = f"{scheme}://{host}" if port is None else f"{scheme}://{host}:{port}"
        own = address if _PLAIN_BASE.fullmatch(address) else own  # not a Unix socket's path
    return own


def samples_for(
    base_url: str,
    method: str,
    path: str,
    path_params: Mapping[str, str],
    query: list[tuple[str, str]],
    headers: list[tuple[str, str]],
    body: Any,
    secured: bool = True,
) -> list[dict[str, Any]]:
    request = build(
        base_url,
        method,
        path,
        path_params=path_params,
        query=query,
        headers=headers,
        body=body,
        key_variable="TDOC_API_KEY" if secured else None,
    )
    return [
        {
            "id": lang.id,
            "label": lang.label,
            "filename": lang.filename,
            "run": lang.run,
            "code": (code := lang.render(request)),
            "html": str(highlight(code, lang.lexer)),
        }
        for lang in LANGUAGES
    ]


def operation_samples(base_url: str, op: Operation) -> list[dict[str, Any]]:
    params = {
        p.name: str(p.example) if p.example not in (None, "") else p.name.upper()
        for p in op.parameters
        if p.location == "path"
    }
    return samples_for(
        base_url,
        op.method,
        op.path,
        params,
        list(op.example_params("query").items()),
        [],
        op.body_example,
        op.secured,
    )


def console_operations(reference: Reference) -> list[dict[str, Any]]:
    """What the console needs of each operation to fill in its form."""
    return [
        {
            "id": op.id,
            "anchor": op.anchor,
            "method": op.method,
            "path": op.path,
            "title": op.title,
            "tag": op.tag,
            "scope": op.scope,
            "secured": op.secured,
            "parameters": [
                {
                    "name": p.name,
                    "in": p.location,
                    "required": p.required,
                    "description": p.description,
                    "type": p.field.type,
                    "example": "" if p.example is None else str(p.example),
                }
                for p in op.parameters
                if p.location in ("path", "query", "header")
            ],
            "body": op.body is not None,
            "body_required": op.body_required,
            "body_example": op.body_example,
        }
        for op in reference.operations
    ]


def make_router(config: PortalConfig | None = None) -> APIRouter:
    config = config or PortalConfig()
    router = APIRouter(include_in_schema=False)
    cache = _Cache()

    def reference_of(request: Request) -> Reference:
        doc = request.app.openapi()
        if cache.doc is not doc:
            cache.doc, cache.reference, cache.samples = doc, read(doc), None
        assert cache.reference is not None
        return cache.reference

    def base_url(request: Request) -> str:
        scheme = "https" if request.url.scheme == "https" else "http"
        return plain_base(str(request.base_url), request.scope.get("server"), scheme)

    def page(request: Request, name: str, **context: Any) -> HTMLResponse:
        reference = reference_of(request)
        return templates.TemplateResponse(
            request,
            name,
            {
                "config": config,
                "api": reference,
                "base_url": base_url(request),
                "languages": LANGUAGES,
                **context,
            },
        )

    @router.get("/", response_class=HTMLResponse)
    def home(request: Request) -> HTMLResponse:
        return page(request, "home.html", nav="home")

    @router.get("/reference", response_class=HTMLResponse)
    def reference(request: Request) -> HTMLResponse:
        samples = cache.samples_at(base_url(request), reference_of(request))
        return page(request, "reference.html", nav="reference", samples=samples)

    @router.get("/console", response_class=HTMLResponse)
    def console(request: Request) -> HTMLResponse:
        return page(
            request,
            "console.html",
            nav="console",
            operations=console_operations(reference_of(request)),
        )

    @router.get("/calls", response_class=HTMLResponse)
    def calls(request: Request) -> HTMLResponse:
        return page(
            request, "calls.html", nav="calls", operations=console_operations(reference_of(request))
        )

    @router.get("/keys", response_class=HTMLResponse)
    def keys(request: Request) -> HTMLResponse:
        return page(request, "keys.html", nav="keys")

    @router.get("/keys/{key_id}", response_class=HTMLResponse)
    def key(request: Request, key_id: str) -> HTMLResponse:
        return page(request, "key.html", nav="keys", key_id=key_id)

    @router.post("/portal/samples")
    async def samples(request: Request) -> Response:
        """The seven samples of the console's request. It carries no key: the samples
        read theirs from the environment. Anyone may ask, so the request is small, and the
        samples are written in a worker thread, never on the event loop the API runs on."""
        rid = request_id({"x-request-id": request.headers.get("x-request-id", "")})
        content = await request.body()
        if len(content) > MAX_SAMPLES_REQUEST:
            message = f"the body is {len(content)} bytes; at most {MAX_SAMPLES_REQUEST}"
            return JSONResponse(error_fields("PAYLOAD_TOO_LARGE", message, rid), status_code=413)
        try:
            found = await anyio.to_thread.run_sync(_samples, base_url(request), content)
        except (InvalidValue, ValueError, TypeError, AttributeError, RecursionError) as error:
            # RecursionError: JSON nested deeper than the parser (or a sample) can follow.
            message = str(error) if isinstance(error, InvalidValue) else "the body is not a request"
            return JSONResponse(error_fields("INVALID_REQUEST", message, rid), status_code=422)
        return JSONResponse({"samples": found})

    return router


def _samples(base: str, content: bytes) -> list[dict[str, Any]]:
    asked = json.loads(content)
    if not isinstance(asked, dict):
        raise InvalidValue("send a JSON object")
    return samples_for(
        base,
        str(asked.get("method", "")),
        str(asked.get("path", "")),
        {str(k): str(v) for k, v in (asked.get("path_params") or {}).items()},
        [(str(k), str(v)) for k, v in asked.get("query") or ()],
        [(str(k), str(v)) for k, v in asked.get("headers") or ()],
        asked.get("body"),
        bool(asked.get("secured", True)),
    )
