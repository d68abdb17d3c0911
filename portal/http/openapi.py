"""The OpenAPI document, completed from the policies: a bearer security scheme, each
operation's required scope (``x-required-scope``, and in words in its description), and
every error it may answer, with the error body and the headers that come with it.

The scopes come from the policies' routes, the contract the engine enforces, so the
document cannot say one thing while the engine does another.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from policyengine.engine import Engine
from policyengine.policy.model import PolicySet, Route
from portal.models.common import ErrorBody

DESCRIPTION = """\
tDoc's public API: events and their members, task automation, integration hooks, and the
API keys that reach them. Every call but the public ones carries an API key (or a token
exchanged for one) as `Authorization: Bearer …`, and the policy engine decides it: the
scope each operation needs is in its description and in `x-required-scope`. Errors answer
`{"error": {"code", "message", "request_id"}}`; lists answer `{"data", "next_cursor"}`.
"""

#: Why each error status is answered, and an example code.
ERRORS: dict[int, tuple[str, str, str]] = {
    400: ("BAD_REQUEST", "The request is well formed but cannot be done as asked.",
          "invalid cursor: pass the next_cursor of a previous page unchanged"),
    401: ("MISSING_CREDENTIAL", "No usable credential: absent, malformed, unknown, revoked, "
          "disabled or expired key, or an invalid token.", "no API key was presented"),
    403: ("INSUFFICIENT_SCOPE", "The key may not do this: wrong environment, client address "
          "outside its networks, no scope grants it, or a deny rule matched.",
          "no scope of this read-only key grants events:write"),
    404: ("RESOURCE_NOT_FOUND", "There is no such resource.", "there is no event evt_42"),
    409: ("CONFLICT", "The resource's state forbids it.",
          "key key_7Hc2LmP9qRt4VwX1yZ3a is revoked, so it cannot be rotated"),
    413: ("PAYLOAD_TOO_LARGE", "The body is larger than the API reads (1 MiB).",
          "the body is 2097152 bytes; at most 1048576"),
    422: ("INVALID_REQUEST", "The body or a parameter does not validate; details lists each "
          "field.", "the request does not validate: ends_at"),
    429: ("RATE_LIMITED", "Over the key's rate limit (Retry-After says when to try again), or "
          "its usage credits are spent.", "over the rate limit (default)"),
    503: ("UNAVAILABLE", "The engine or the store could not answer; nothing was done.",
          "the store is unavailable"),
}  # fmt: skip
AUTHENTICATED_ERRORS = (401, 403, 429, 503)
REF = "#/components/schemas/{model}"
EXAMPLE_REQUEST_ID = "req_3f9a2c1b7d4e000000000000002a"

HEADERS: dict[str, dict[str, Any]] = {
    "X-Request-ID": {
        "description": "The request's id: the caller's X-Request-ID when given, else a new one.",
        "schema": {"type": "string"},
    },
    "RateLimit-Policy": {
        "description": 'The key\'s limits (IETF draft): "default";q=600;w=60.',
        "schema": {"type": "string"},
    },
    "RateLimit": {
        "description": 'What is left of each limit: "default";r=42;t=17.',
        "schema": {"type": "string"},
    },
    "Retry-After": {
        "description": "Seconds to wait before trying again.",
        "schema": {"type": "integer"},
    },
    "WWW-Authenticate": {
        "description": "The bearer challenge (RFC 6750).",
        "schema": {"type": "string"},
    },
}


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a route that may answer these errors besides the usual ones."""
    return {status: {"model": ErrorBody, "description": ERRORS[status][1]} for status in statuses}


def install_openapi(app: FastAPI, engine: Engine) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = build(app, engine.policy_set())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def build(app: FastAPI, policy: PolicySet) -> dict[str, Any]:
    document = get_openapi(
        title=app.title,
        version=app.version,
        summary=app.summary,
        description=DESCRIPTION,
        routes=app.routes,
    )
    components = document.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    schemas.setdefault(
        "ErrorBody", ErrorBody.model_json_schema(ref_template="#/components/schemas/{model}")
    )
    if "KeyFields" in schemas:
        # The key types are the policies': the document lists those this server knows.
        schemas["KeyFields"]["properties"]["type"]["enum"] = sorted(policy.key_types)
    components["headers"] = HEADERS
    components["securitySchemes"] = {
        "bearer": {
            "type": "http",
            "scheme": "bearer",
            "description": "An API key (tdoc_test_… or tdoc_live_…), or a JWT from "
            "POST /v1/auth/token.",
        }
    }
    for path, operations in document.get("paths", {}).items():
        for method, operation in operations.items():
            route = policy_route(policy.routes, method, path)
            _complete(operation, route, policy, has_params="{" in path)
            _add_examples(operation, schemas)
    return document


def policy_route(routes: tuple[Route, ...], method: str, path: str) -> Route | None:
    """The policies' route for ``method path`` (parameters matched by position)."""
    shape = _shape(path)
    for route in routes:
        if route.method == method.upper() and _shape(route.path) == shape:
            return route
    return None


def required_scope(route: Route) -> str:
    return "any valid key" if route.any_key else f"{route.resource}:{route.action}"


def _shape(path: str) -> str:
    return re.sub(r"\{[^}]*\}", "{}", path)


def _complete(
    operation: dict[str, Any], route: Route | None, policy: PolicySet, has_params: bool
) -> None:
    responses = operation.setdefault("responses", {})
    if route is None:
        operation["security"] = []
        _add_headers(responses, authenticated=False)
        return
    operation["security"] = [{"bearer": []}]
    scope = required_scope(route)
    operation["x-required-scope"] = scope
    operation["description"] = (
        operation.get("description", "") + "\n\n" + _scope_text(route, policy)
    ).strip()
    statuses = list(AUTHENTICATED_ERRORS)
    if has_params:
        statuses.append(404)
    if "requestBody" in operation:
        statuses.append(413)
    if "requestBody" in operation or operation.get("parameters"):
        statuses.append(422)
    for status in statuses:
        responses.setdefault(str(status), {"description": ERRORS[status][1]})
    _add_headers(responses, authenticated=True)


def _scope_text(route: Route, policy: PolicySet) -> str:
    if route.any_key:
        text = "**Requires:** any valid key."
    else:
        text = f"**Requires scope** `{route.resource}:{route.action}`"
        if route.instance is not None:
            instance = route.instance.strip("{}")
            text += f" (or `{route.resource}/<{instance}>:{route.action}` for this one alone)"
        text += "."
    for rule in policy.rules:
        applies = ("*" in rule.resources or route.resource in rule.resources) and (
            "*" in rule.actions or route.action in rule.actions
        )
        if applies and rule.effect == "allow":
            text += f" Also allowed by the rule `{rule.name}`: {rule.reason}."
        elif applies:
            text += f" Denied by the rule `{rule.name}` when it matches: {rule.reason}."
    return text


def _add_headers(responses: dict[str, Any], authenticated: bool) -> None:
    for status, response in responses.items():
        headers = response.setdefault("headers", {})
        headers["X-Request-ID"] = {"$ref": "#/components/headers/X-Request-ID", "required": True}
        if authenticated:
            for name in ("RateLimit-Policy", "RateLimit"):
                headers[name] = {"$ref": f"#/components/headers/{name}"}
        code = int(status) if status.isdigit() else 0
        if code >= 400:
            _error_content(response, code)
        if code == 429:
            headers["Retry-After"] = {"$ref": "#/components/headers/Retry-After"}
        if code in (401, 403):
            headers["WWW-Authenticate"] = {"$ref": "#/components/headers/WWW-Authenticate"}


def _error_content(response: dict[str, Any], status: int) -> None:
    code, _, message = ERRORS.get(status, ("BAD_REQUEST", "", "the request failed"))
    example: dict[str, Any] = {
        "error": {
            "code": code,
            "message": message,
            "request_id": "req_3f9a2c1b7d4e000000000000002a",
        }
    }
    if status == 422:
        example["error"]["details"] = [
            {"field": "ends_at", "message": "ends_at must not be before starts_at"}
        ]
    response["content"] = {
        "application/json": {
            "schema": {"$ref": "#/components/schemas/ErrorBody"},
            "example": example,
        }
    }


def _add_examples(operation: dict[str, Any], schemas: dict[str, Any]) -> None:
    """Put an example beside each body and answer, from its model's examples."""
    media = [operation.get("requestBody", {}).get("content", {}).get("application/json")]
    media += [
        response.get("content", {}).get("application/json")
        for response in operation.get("responses", {}).values()
    ]
    for found in media:
        if found is not None and "example" not in found:
            example = _example(found.get("schema", {}), schemas)
            if example is not None:
                found["example"] = example


def _example(schema: dict[str, Any], schemas: dict[str, Any]) -> Any:
    for option in [schema, *schema.get("anyOf", [])]:
        name = option.get("$ref", "").rsplit("/", 1)[-1]
        target = schemas.get(name) if name else None
        if target is None:
            continue
        if target.get("examples"):
            return target["examples"][0]
        items = target.get("properties", {}).get("data", {}).get("items")
        if items is not None:
            item = _example(items, schemas)
            if item is not None:
                return {"data": [item], "next_cursor": None}
    return None
