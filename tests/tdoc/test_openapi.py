"""The OpenAPI document says what the engine enforces: every operation's scope comes from
the policies' routes, and every error it may answer is described with its body."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from policyengine.engine import Engine
from portal.http.openapi import policy_route

METHODS = ("get", "post", "put", "patch", "delete")


@pytest.fixture
def document(client: TestClient) -> dict[str, Any]:
    found: dict[str, Any] = client.get("/openapi.json").json()
    return found


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    ]


def test_every_api_route_is_a_route_of_the_policies(
    document: dict[str, Any], engine: Engine
) -> None:
    routes = engine.policy_set().routes
    for method, path, operation in operations(document):
        if path.startswith("/v1/"):
            route = policy_route(routes, method, path)
            assert route is not None, (
                f"{method.upper()} {path} is served but no policy route names it"
            )
            expected = "any valid key" if route.any_key else f"{route.resource}:{route.action}"
            assert operation["x-required-scope"] == expected
            assert f"`{expected}`" in operation["description"] or route.any_key
            assert operation["security"] == [{"bearer": []}]
        else:
            assert operation["security"] == []


def test_every_policy_route_is_served(document: dict[str, Any], engine: Engine) -> None:
    served = {(m.upper(), p) for m, p, _ in operations(document)}
    missing = [
        f"{r.method} {r.path}"
        for r in engine.policy_set().routes
        if not any(policy_route((r,), m, p) for m, p in served)
    ]
    assert missing == []


def test_errors_are_described_with_the_error_body_and_headers(document: dict[str, Any]) -> None:
    assert "HTTPValidationError" not in document["components"]["schemas"]
    assert document["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    for method, path, operation in operations(document):
        responses = operation["responses"]
        for status, response in responses.items():
            assert "X-Request-ID" in response["headers"], (method, path, status)
            if int(status) >= 400:
                media = response["content"]["application/json"]
                assert media["schema"] == {"$ref": "#/components/schemas/ErrorBody"}
                assert media["example"]["error"]["code"]
        if path.startswith("/v1/"):
            assert {"401", "403", "429", "503"} <= set(responses), (method, path)
            assert "Retry-After" in responses["429"]["headers"]
            assert (
                "RateLimit" in responses["200" if "200" in responses else min(responses)]["headers"]
            )
        if "{" in path:
            assert "404" in responses, (method, path)
        if "requestBody" in operation:
            assert "422" in responses, (method, path)


def test_bodies_and_answers_have_examples(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    for _, _, operation in operations(document):
        body = operation.get("requestBody", {}).get("content", {}).get("application/json")
        if body is not None:
            assert _example_of(body, schemas), operation["operationId"]
        for status, response in operation["responses"].items():
            media = response.get("content", {}).get("application/json")
            if media is not None and status != "204":
                assert _example_of(media, schemas), (operation["operationId"], status)


def _example_of(media: dict[str, Any], schemas: dict[str, Any]) -> bool:
    if "example" in media or "examples" in media:
        return True
    schema = media["schema"]
    refs = [schema, *schema.get("anyOf", [])]
    for ref in refs:
        name = ref.get("$ref", "").rsplit("/", 1)[-1]
        if name and schemas[name].get("examples"):
            return True
    return False
