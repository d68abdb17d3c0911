"""The portal's pages: home, reference, console, your calls, keys, one key; and the code
samples of any request, for the console. Every page is a route of this router, outside the
API's OpenAPI document; their data comes from the API itself, in the browser, with the
reader's key."""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
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
#: How many base URLs the reference's samples are kept for. The base comes from the
#: request's Host header, which anyone sets, so only the most recently used few are kept:
#: a spray of made-up hosts costs their rendering and nothing that stays.
MAX_SAMPLE_BASES = 8
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
    samples: OrderedDict[str, dict[str, list[dict[str, Any]]]] = field(default_factory=OrderedDict)

    def samples_at(self, base: str, reference: Reference) -> dict[str, list[dict[str, Any]]]:
        """Every operation's samples against ``base``, kept for the most recent bases."""
        found = self.samples.get(base)
        if found is None:
            found = {op.id: operation_samples(base, op) for op in reference.operations}
            self.samples[base] = found
            while len(self.samples) > MAX_SAMPLE_BASES:
                self.samples.popitem(last=False)
        else:
            self.samples.move_to_end(base)
        return found


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
            cache.doc, cache.reference, cache.samples = doc, read(doc), OrderedDict()
        assert cache.reference is not None
        return cache.reference

    def base_url(request: Request) -> str:
        return str(request.base_url).rstrip("/")

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
