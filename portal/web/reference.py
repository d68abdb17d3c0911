"""An OpenAPI document as the reference shows it: operations grouped by tag, each with
its parameters, body, responses, examples, required scope and the errors it may answer.

It reads whatever ``/openapi.json`` holds; nothing here knows tDoc's routes.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from portal.web.schema import Doc, Field, example, fields, resolve

METHODS = ("get", "post", "put", "patch", "delete", "head", "options")
#: The extension naming the scope an operation needs.
SCOPE = "x-required-scope"


@dataclass(frozen=True)
class Parameter:
    name: str
    location: str  # path, query, header, cookie
    required: bool
    description: str
    field: Field
    example: Any
    anchor: str


@dataclass(frozen=True)
class Response:
    status: str
    description: str
    field: Field | None
    example: Any
    #: The error codes this response may carry (``error.code`` of its examples).
    codes: tuple[str, ...]
    headers: tuple[tuple[str, str], ...]

    @property
    def is_error(self) -> bool:
        return self.status[:1] in ("4", "5")


@dataclass(frozen=True)
class Operation:
    id: str
    anchor: str
    method: str
    path: str
    summary: str
    description: str
    tag: str
    scope: str | None
    deprecated: bool
    secured: bool
    parameters: tuple[Parameter, ...]
    body: Field | None
    body_required: bool
    body_example: Any
    responses: tuple[Response, ...]

    @property
    def title(self) -> str:
        return self.summary or f"{self.method} {self.path}"

    def example_params(self, location: str) -> dict[str, str]:
        return {
            p.name: "" if p.example is None else str(p.example)
            for p in self.parameters
            if p.location == location and (p.required or p.example is not None)
        }


@dataclass(frozen=True)
class Tag:
    name: str
    description: str
    anchor: str
    operations: tuple[Operation, ...]


@dataclass(frozen=True)
class Reference:
    title: str
    version: str
    description: str
    tags: tuple[Tag, ...]

    @property
    def operations(self) -> tuple[Operation, ...]:
        return tuple(op for tag in self.tags for op in tag.operations)

    def operation(self, operation_id: str) -> Operation | None:
        return next((op for op in self.operations if op.id == operation_id), None)


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "x"


def _media_example(doc: Doc, media: Mapping[str, Any]) -> Any:
    if "example" in media:
        return media["example"]
    examples = media.get("examples")
    if isinstance(examples, Mapping) and examples:
        first = resolve(doc, next(iter(examples.values())))
        return first.get("value")
    return example(doc, media.get("schema", {})) if "schema" in media else None


def _codes(doc: Doc, media: Mapping[str, Any]) -> tuple[str, ...]:
    values = []
    for ex in (media.get("examples") or {}).values():
        values.append(resolve(doc, ex).get("value"))
    if "example" in media:
        values.append(media["example"])
    codes = []
    for value in values:
        error = value.get("error") if isinstance(value, Mapping) else None
        code = error.get("code") if isinstance(error, Mapping) else None
        if isinstance(code, str) and code not in codes:
            codes.append(code)
    enum = resolve(
        doc, resolve(doc, media.get("schema", {})).get("properties", {}).get("error", {})
    )
    for code in resolve(doc, enum.get("properties", {}).get("code", {})).get("enum", ()):
        if code not in codes:
            codes.append(str(code))
    return tuple(codes)


def _json_media(content: Any) -> Mapping[str, Any] | None:
    if not isinstance(content, Mapping):
        return None
    for media_type, media in content.items():
        if "json" in media_type and isinstance(media, Mapping):
            return media
    return None


def _operation(
    doc: Doc, path: str, method: str, op: Mapping[str, Any], shared: list[Any]
) -> Operation:
    op_id = str(op.get("operationId") or f"{method}-{path}")
    anchor = slug(op_id)
    params: dict[tuple[str, str], Parameter] = {}
    for raw in [*shared, *op.get("parameters", ())]:
        p = resolve(doc, raw)
        name, location = str(p.get("name", "")), str(p.get("in", "query"))
        schema = p.get("schema", {})
        value = p.get("example")
        if value is None and isinstance(p.get("examples"), Mapping) and p["examples"]:
            value = resolve(doc, next(iter(p["examples"].values()))).get("value")
        if value is None:
            s = resolve(doc, schema)
            value = s.get(
                "example",
                (s.get("examples") or [None])[0] if isinstance(s.get("examples"), list) else None,
            )
            if value is None and location != "path":
                value = s.get("default")
        params[(name, location)] = Parameter(
            name=name,
            location=location,
            required=bool(p.get("required")) or location == "path",
            description=str(p.get("description") or resolve(doc, schema).get("description") or ""),
            field=fields(doc, schema),
            example=value,
            anchor=f"{anchor}--{location}-{slug(name)}",
        )
    body = body_example = None
    body_required = False
    request_body = resolve(doc, op.get("requestBody")) if op.get("requestBody") else {}
    media = _json_media(request_body.get("content"))
    if media is not None:
        body = fields(doc, media.get("schema", {}))
        body_example = _media_example(doc, media)
        body_required = bool(request_body.get("required"))
    responses = []
    for status, raw in sorted((op.get("responses") or {}).items()):
        r = resolve(doc, raw)
        rmedia = _json_media(r.get("content"))
        headers = tuple(
            (str(h), str(resolve(doc, spec).get("description", "")))
            for h, spec in (r.get("headers") or {}).items()
        )
        responses.append(
            Response(
                status=str(status),
                description=str(r.get("description", "")),
                field=fields(doc, rmedia["schema"]) if rmedia and "schema" in rmedia else None,
                example=_media_example(doc, rmedia) if rmedia else None,
                codes=_codes(doc, rmedia) if rmedia else (),
                headers=headers,
            )
        )
    security = op.get("security", doc.get("security"))
    return Operation(
        id=op_id,
        anchor=anchor,
        method=method.upper(),
        path=path,
        summary=str(op.get("summary", "")),
        description=str(op.get("description", "")),
        tag=str((op.get("tags") or ["other"])[0]),
        scope=str(op[SCOPE]) if op.get(SCOPE) else None,
        deprecated=bool(op.get("deprecated")),
        secured=bool(security) if security is not None else bool(op.get(SCOPE)),
        parameters=tuple(params.values()),
        body=body,
        body_required=body_required,
        body_example=body_example,
        responses=tuple(responses),
    )


def read(doc: Doc) -> Reference:
    """The reference of an OpenAPI 3 document."""
    by_tag: dict[str, list[Operation]] = {}
    for path, item in (doc.get("paths") or {}).items():
        item = resolve(doc, item)
        for method in METHODS:
            if isinstance(item.get(method), Mapping):
                op = _operation(
                    doc, str(path), method, item[method], list(item.get("parameters", ()))
                )
                by_tag.setdefault(op.tag, []).append(op)
    described = {str(t.get("name")): str(t.get("description", "")) for t in doc.get("tags", ())}
    order = [*described, *sorted(set(by_tag) - set(described))]
    info = doc.get("info") or {}
    return Reference(
        title=str(info.get("title", "API")),
        version=str(info.get("version", "")),
        description=str(info.get("description") or info.get("summary") or ""),
        tags=tuple(
            Tag(name, described.get(name, ""), f"tag-{slug(name)}", tuple(by_tag[name]))
            for name in order
            if name in by_tag
        ),
    )
