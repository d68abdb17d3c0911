"""JSON Schemas of an OpenAPI document, as a reader sees them: a tree of fields with
their types and constraints, and an example value made from the schema when the
document gives none."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

Doc = Mapping[str, Any]
#: How deep a schema is shown or an example made; a recursive schema stops there.
DEPTH = 6

_FORMAT_EXAMPLES = {
    "date-time": "2025-01-31T09:30:00Z",
    "date": "2025-01-31",
    "time": "09:30:00",
    "email": "ada@example.com",
    "uri": "https://example.com/hooks/tdoc",
    "url": "https://example.com/hooks/tdoc",
    "uuid": "3fa85f64-5717-4562-b3fc-2c963f66afa6",
    "ipv4": "203.0.113.7",
    "ipv6": "2001:db8::7",
    "duration": "P1D",
}


def resolve(doc: Doc, schema: Any) -> dict[str, Any]:
    """``schema`` with its ``$ref`` (local, ``#/…``) followed; anything else as it is."""
    seen = 0
    while isinstance(schema, Mapping) and "$ref" in schema and seen < DEPTH:
        target: Any = doc
        for part in str(schema["$ref"]).removeprefix("#/").split("/"):
            part = part.replace("~1", "/").replace("~0", "~")
            target = target.get(part, {}) if isinstance(target, Mapping) else {}
        extra = {k: v for k, v in schema.items() if k != "$ref"}
        schema = {**target, **extra}
        seen += 1
    return dict(schema) if isinstance(schema, Mapping) else {}


def ref_name(schema: Any) -> str | None:
    if isinstance(schema, Mapping) and isinstance(schema.get("$ref"), str):
        return str(schema["$ref"]).rsplit("/", 1)[-1]
    return None


@dataclass(frozen=True)
class Field:
    """One field of a schema: its name (empty for the root), type in words, whether it is
    required, what it means, its constraints, and the fields inside it."""

    name: str
    type: str
    required: bool = False
    description: str = ""
    constraints: tuple[str, ...] = ()
    children: tuple[Field, ...] = ()
    variants: tuple[Field, ...] = field(default=())


def _without_null(options: list[Any], doc: Doc) -> tuple[list[Any], bool]:
    kept = [o for o in options if resolve(doc, o).get("type") != "null"]
    return kept, len(kept) != len(options)


def type_text(doc: Doc, schema: Any, depth: int = 0) -> str:
    name = ref_name(schema)
    s = resolve(doc, schema)
    options = s.get("anyOf") or s.get("oneOf")
    if options:
        kept, nullable = _without_null(options, doc)
        words = " or ".join(type_text(doc, o, depth + 1) for o in kept) or "null"
        return f"{words} or null" if nullable else words
    kind = s.get("type")
    if isinstance(kind, list):
        return " or ".join(str(k) for k in kind)
    if kind == "array":
        return (
            f"array of {type_text(doc, s.get('items', {}), depth + 1)}"
            if depth < DEPTH
            else "array"
        )
    if name and (kind == "object" or "properties" in s):
        return name
    if kind == "string" and s.get("format"):
        return f"string ({s['format']})"
    if kind:
        return str(kind)
    if "properties" in s:
        return "object"
    if "const" in s:
        return "constant"
    return "any"


def constraints(s: Mapping[str, Any]) -> tuple[str, ...]:
    found = []
    if "enum" in s:
        found.append("one of " + ", ".join(_show(v) for v in s["enum"]))
    if "const" in s:
        found.append(f"always {_show(s['const'])}")
    for key, words in (
        ("minimum", "at least"),
        ("maximum", "at most"),
        ("exclusiveMinimum", "more than"),
        ("exclusiveMaximum", "less than"),
        ("minLength", "at least {} characters"),
        ("maxLength", "at most {} characters"),
        ("minItems", "at least {} items"),
        ("maxItems", "at most {} items"),
    ):
        if key in s:
            found.append(words.format(s[key]) if "{}" in words else f"{words} {s[key]}")
    if "pattern" in s:
        found.append(f"matches {s['pattern']}")
    if "default" in s:
        found.append(f"default {_show(s['default'])}")
    return tuple(found)


def _show(value: Any) -> str:
    import json

    return json.dumps(value, ensure_ascii=False)


def fields(doc: Doc, schema: Any, name: str = "", required: bool = False, depth: int = 0) -> Field:
    """The tree of ``schema``: properties of objects, items of arrays, variants of unions."""
    s = resolve(doc, schema)
    for part in s.get("allOf", ()):
        merged = resolve(doc, part)
        s = {
            **merged,
            **{k: v for k, v in s.items() if k != "allOf"},
            "properties": {**merged.get("properties", {}), **s.get("properties", {})},
            "required": [*merged.get("required", ()), *s.get("required", ())],
        }
    children: list[Field] = []
    variants: list[Field] = []
    if depth < DEPTH:
        inner = s
        if s.get("type") == "array":
            inner = resolve(doc, s.get("items", {}))
        needed = set(inner.get("required", ()))
        for prop, sub in (inner.get("properties") or {}).items():
            children.append(fields(doc, sub, prop, prop in needed, depth + 1))
        options = s.get("oneOf") or s.get("anyOf") or ()
        kept, _ = _without_null(list(options), doc)
        if len(kept) == 1:
            only = fields(doc, kept[0], depth=depth + 1)
            children.extend(only.children)
            variants.extend(only.variants)
        elif kept:
            variants.extend(fields(doc, o, ref_name(o) or "", depth=depth + 1) for o in kept)
    return Field(
        name=name,
        type=type_text(doc, schema),
        required=required,
        description=str(s.get("description") or s.get("title") or "")
        if name
        else str(s.get("description") or ""),
        constraints=constraints(s),
        children=tuple(children),
        variants=tuple(variants),
    )


def example(doc: Doc, schema: Any, depth: int = 0) -> Any:
    """The schema's own example when it has one, else a value made from its type."""
    s = resolve(doc, schema)
    if "example" in s:
        return s["example"]
    if isinstance(s.get("examples"), list) and s["examples"]:
        return s["examples"][0]
    if "default" in s:
        return s["default"]
    if "const" in s:
        return s["const"]
    if s.get("enum"):
        return s["enum"][0]
    if depth >= DEPTH:
        return None
    options = s.get("oneOf") or s.get("anyOf")
    if options:
        kept, _ = _without_null(list(options), doc)
        return example(doc, kept[0], depth + 1) if kept else None
    if "allOf" in s:
        return example(doc, fields_schema(doc, s), depth + 1)
    kind = s.get("type")
    if kind == "array":
        return [example(doc, s.get("items", {}), depth + 1)]
    if kind == "object" or "properties" in s:
        props = s.get("properties") or {}
        needed = [p for p in props if p in set(s.get("required", ()))] or list(props)
        return {p: example(doc, props[p], depth + 1) for p in needed}
    if kind == "string":
        return _FORMAT_EXAMPLES.get(str(s.get("format")), "string")
    if kind == "integer":
        return int(s.get("minimum", 1))
    if kind == "number":
        return float(s.get("minimum", 1.5))
    if kind == "boolean":
        return True
    return None


def fields_schema(doc: Doc, s: Mapping[str, Any]) -> dict[str, Any]:
    """An ``allOf`` folded into one object schema."""
    merged: dict[str, Any] = {"type": "object", "properties": {}, "required": []}
    for part in s.get("allOf", ()):
        r = resolve(doc, part)
        merged["properties"].update(r.get("properties", {}))
        merged["required"] += r.get("required", [])
    return merged
