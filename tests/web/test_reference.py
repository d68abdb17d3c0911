"""Reading an OpenAPI document: references followed, unions and nullables in words,
examples made from schemas, error codes found, and no document that makes it fail."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from portal.web.reference import read
from portal.web.schema import example, fields, type_text

DOC: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {"title": "T", "version": "2"},
    "tags": [{"name": "b", "description": "Bees"}],
    "components": {
        "schemas": {
            "Node": {
                "type": "object",
                "required": ["name"],
                "properties": {
                    "name": {"type": "string", "minLength": 1},
                    "next": {"anyOf": [{"$ref": "#/components/schemas/Node"}, {"type": "null"}]},
                    "when": {"type": "string", "format": "date-time"},
                },
            },
            "Error": {
                "type": "object",
                "properties": {
                    "error": {
                        "type": "object",
                        "properties": {
                            "code": {"type": "string", "enum": ["RATE_LIMITED", "USAGE_EXCEEDED"]}
                        },
                    }
                },
            },
        }
    },
    "paths": {
        "/v1/a/{id}": {
            "parameters": [{"name": "id", "in": "path", "schema": {"type": "string"}}],
            "post": {
                "operationId": "make_a",
                "tags": ["a"],
                "x-required-scope": "a:write",
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/Node"}}
                    },
                },
                "responses": {
                    "201": {"description": "Made"},
                    "429": {
                        "description": "Slow down",
                        "content": {
                            "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}
                        },
                        "headers": {"Retry-After": {"description": "seconds"}},
                    },
                },
            },
        },
        "/v1/b": {
            "get": {"operationId": "list_b", "tags": ["b"], "summary": "List b", "security": []}
        },
    },
}


def test_operations_are_grouped_by_tag_described_tags_first() -> None:
    reference = read(DOC)
    assert [t.name for t in reference.tags] == ["b", "a"]
    assert reference.tags[0].description == "Bees"
    assert reference.operation("list_b") is not None
    assert reference.operation("list_b").secured is False  # type: ignore[union-attr]


def test_an_operation_reads_shared_parameters_body_scope_and_error_codes() -> None:
    op = read(DOC).operation("make_a")
    assert op is not None
    assert op.scope == "a:write"
    assert [(p.name, p.location, p.required) for p in op.parameters] == [("id", "path", True)]
    assert op.body_required
    assert op.body is not None
    assert [c.name for c in op.body.children] == ["name", "next", "when"]
    assert op.body.children[1].type == "Node or null"
    assert op.body.children[0].constraints == ("at least 1 characters",)
    assert op.body_example == {"name": "string"}
    slow = next(r for r in op.responses if r.status == "429")
    assert slow.is_error
    assert slow.codes == ("RATE_LIMITED", "USAGE_EXCEEDED")
    assert slow.headers == (("Retry-After", "seconds"),)


def test_a_recursive_schema_stops_at_a_depth() -> None:
    tree = fields(DOC, {"$ref": "#/components/schemas/Node"})
    depth = 0
    while tree.children:
        tree = tree.children[1]
        depth += 1
    assert 3 <= depth <= 8


def test_examples_follow_formats_and_types() -> None:
    schema = {
        "type": "object",
        "properties": {
            "at": {"type": "string", "format": "date-time"},
            "n": {"type": "integer", "minimum": 5},
            "tags": {"type": "array", "items": {"enum": ["x", "y"]}},
        },
    }
    assert example(DOC, schema) == {"at": "2025-01-31T09:30:00Z", "n": 5, "tags": ["x"]}
    assert (
        type_text(DOC, {"type": "array", "items": {"type": "string", "format": "uri"}})
        == "array of string (uri)"
    )


schemas = st.recursive(
    st.fixed_dictionaries(
        {},
        optional={
            "type": st.sampled_from(["string", "integer", "object", "array", "null", "boolean"]),
            "format": st.text(max_size=5),
            "enum": st.lists(st.integers(), max_size=2),
            "$ref": st.sampled_from(["#/components/schemas/Node", "#/nowhere", "#/components"]),
        },
    ),
    lambda inner: st.fixed_dictionaries(
        {},
        optional={
            "properties": st.dictionaries(st.text(max_size=4), inner, max_size=3),
            "items": inner,
            "anyOf": st.lists(inner, max_size=3),
            "oneOf": st.lists(inner, max_size=3),
            "allOf": st.lists(inner, max_size=2),
            "required": st.lists(st.text(max_size=4), max_size=2),
        },
    ),
    max_leaves=12,
)


@given(schemas)
def test_any_schema_is_read_without_failing(schema: dict[str, Any]) -> None:
    fields(DOC, schema)
    example(DOC, schema)
    doc = {
        **DOC,
        "paths": {
            "/x": {
                "put": {
                    "requestBody": {"content": {"application/json": {"schema": schema}}},
                    "responses": {
                        "200": {
                            "description": "",
                            "content": {"application/json": {"schema": schema}},
                        }
                    },
                }
            }
        },
    }
    assert len(read(doc).operations) == 1
