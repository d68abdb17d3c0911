"""Every error the API answers, in DESIGN's body: ``{"error": {"code", "message",
"request_id", "details"?}}``, whatever raised it.

The engine's own denials are answered by its middleware with the same body (one shared
function makes both, :func:`policyengine.integrations.http.error_fields`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, ClassVar

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.exceptions import HTTPException
from starlette.requests import Request

from policyengine.errors import (
    InvalidValue,
    KeyConflict,
    KeyNotFound,
    KeyRequestError,
    MonitorError,
    StorageError,
)
from policyengine.integrations.http import error_fields
from policyengine.monitor.delivery_log import DeliveryError, DeliveryNotFound
from portal.http.body_limit import TOO_LARGE, BodyTooLarge
from portal.http.context import REQUEST_ID

log = logging.getLogger("portal")


class ApiError(Exception):
    status: ClassVar[int] = 400
    code: ClassVar[str] = "BAD_REQUEST"
    headers: ClassVar[Mapping[str, str]] = {}

    def __init__(self, message: str, details: Sequence[Mapping[str, str]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class BadRequest(ApiError):
    """A well-formed request that cannot be done as asked (an unknown key type, a scope
    outside the type's allowance, a cursor that is not one of ours)."""


class NotFound(ApiError):
    status, code = 404, "RESOURCE_NOT_FOUND"


class Forbidden(ApiError):
    """The engine let the request through, but what it would answer is another
    resource's, which the key may not read (a hook's deliveries of key events)."""

    status, code = 403, "INSUFFICIENT_SCOPE"
    # The challenge the engine's own scope refusals carry (RFC 6750), in the guard's realm.
    headers: ClassVar[Mapping[str, str]] = {
        "WWW-Authenticate": 'Bearer realm="api", error="insufficient_scope"'
    }


class Conflict(ApiError):
    """The resource's state forbids it (a revoked key cannot be rotated)."""

    status, code = 409, "CONFLICT"


class Unavailable(ApiError):
    status, code = 503, "UNAVAILABLE"


def request_id_of(request: Request) -> str:
    rid = request.scope.get("state", {}).get(REQUEST_ID)
    return rid if isinstance(rid, str) else ""


def error_response(
    request: Request,
    status: int,
    code: str,
    message: str,
    details: Sequence[Mapping[str, str]] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    body = error_fields(code, message, request_id_of(request), details)
    return JSONResponse(body, status_code=status, headers=dict(headers or {}))


def field_name(location: Iterable[int | str], tags: frozenset[str]) -> str:
    """``("body", "steps", 0, "wait", "duration")`` → ``steps[0].duration``: where in the
    body, or which parameter. The tag pydantic puts after a union member's index goes."""
    parts = list(location)
    if parts and parts[0] in ("body", "query", "path", "header", "cookie"):
        parts = parts[1:] if parts[0] == "body" or len(parts) > 1 else parts
    name, previous = "", None
    for part in parts:
        if isinstance(part, int):
            name += f"[{part}]"
        elif not (isinstance(previous, int) and part in tags):
            name += f".{part}" if name else str(part)
        previous = part
    return name or "body"


def details_of(errors: Sequence[Any], tags: frozenset[str] = frozenset()) -> list[dict[str, str]]:
    found = []
    for error in errors:
        if error.get("type") == "json_invalid":
            reason = error.get("ctx", {}).get("error", "")
            found.append({"field": "body", "message": f"the body is not JSON: {reason}"})
            continue
        message = str(error.get("msg", "invalid"))
        message = message.removeprefix("Value error, ").removeprefix("Assertion failed, ")
        found.append({"field": field_name(error.get("loc", ()), tags), "message": message})
    return found


def install(app: FastAPI, union_tags: frozenset[str] = frozenset()) -> None:
    """Answer every exception the routes raise with the error body."""

    async def api_error(request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, ApiError)
        return error_response(
            request, error.status, error.code, error.message, error.details, error.headers
        )

    async def invalid(request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, RequestValidationError | ValidationError)
        details = details_of(error.errors(), union_tags)
        fields = ", ".join(dict.fromkeys(d["field"] for d in details))
        message = f"the request does not validate: {fields}"
        return error_response(request, 422, "INVALID_REQUEST", message, details)

    async def http_error(request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, HTTPException)
        if isinstance(error.__cause__, BodyTooLarge):
            return error_response(request, 413, TOO_LARGE, str(error.__cause__))
        if error.status_code == 400:
            # FastAPI's answer to a body it cannot read at all (not UTF-8, say): that is a
            # body that does not validate, like any other.
            details = [{"field": "body", "message": f"the body cannot be read: {error.detail}"}]
            return error_response(request, 422, "INVALID_REQUEST", details[0]["message"], details)
        if error.status_code == 404:
            code, message = "RESOURCE_NOT_FOUND", "there is nothing at this path"
        elif error.status_code == 405:
            code, message = "METHOD_NOT_ALLOWED", "this path does not take that method"
        else:
            code, message = "BAD_REQUEST", str(error.detail)
        return error_response(request, error.status_code, code, message, headers=error.headers)

    async def engine_error(request: Request, error: Exception) -> JSONResponse:
        if isinstance(error, KeyNotFound | DeliveryNotFound):
            return error_response(request, 404, NotFound.code, str(error))
        if isinstance(error, KeyConflict | DeliveryError):
            return error_response(request, 409, Conflict.code, str(error))
        if isinstance(error, StorageError):
            log.warning("storage failed: %s", error)
            return error_response(request, 503, Unavailable.code, "the store is unavailable")
        return error_response(request, 400, BadRequest.code, str(error))

    app.add_exception_handler(ApiError, api_error)
    app.add_exception_handler(RequestValidationError, invalid)
    app.add_exception_handler(ValidationError, invalid)
    app.add_exception_handler(HTTPException, http_error)
    for kind in (
        KeyNotFound,
        KeyConflict,
        KeyRequestError,
        InvalidValue,
        MonitorError,
        StorageError,
    ):
        app.add_exception_handler(kind, engine_error)
