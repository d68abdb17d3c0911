"""What every integration shares: reading the credential from ``Authorization`` and
answering a denial with the JSON error body, ``WWW-Authenticate`` and rate-limit headers."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from policyengine.decision import Code, Decision
from policyengine.limits.headers import RateLimitHeaders
from policyengine.request import new_request_id

_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")


def bearer(authorization: str | None) -> str | None:
    """The credential of ``Authorization: Bearer <credential>``; ``None`` when absent.

    A header in another scheme, or with nothing after the scheme, yields ``""``: a
    credential was offered but is not one of ours, which the engine calls malformed.
    """
    if authorization is None:
        return None
    scheme, _, credential = authorization.strip().partition(" ")
    if scheme.lower() != "bearer":
        return ""
    return credential.strip()


def scope_headers(scope: Mapping[str, Any]) -> dict[str, str]:
    """An ASGI scope's headers by lower-case name; a repeated header is one comma-separated
    list in the order received (RFC 9110, 5.3), so that every hop of a forwarding chain
    written over several lines is seen."""
    headers: dict[str, str] = {}
    for raw_name, raw_value in scope.get("headers", ()):
        name = raw_name.decode("latin-1").lower()
        value = raw_value.decode("latin-1")
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    return headers


def encoded_headers(headers: Mapping[str, str]) -> Sequence[tuple[bytes, bytes]]:
    """A decision's headers as ASGI sends them: lower-case names, values as bytes. The
    rate-limit headers of an outcome are encoded once, however often they are sent."""
    if type(headers) is RateLimitHeaders:
        return headers.encoded()
    return [
        (name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers.items()
    ]


def request_id(headers: Mapping[str, str]) -> str:
    """The caller's ``X-Request-ID`` when it is a sane token, else a fresh one; the check is
    given it, so that its decision record and the response carry the same id."""
    given = headers.get("x-request-id", "")
    return given if _REQUEST_ID.fullmatch(given) else new_request_id()


def error_document(decision: Decision, request_id: str) -> dict[str, dict[str, Any]]:
    """``{"error": {"code", "message", "request_id"}}``: every denial's body."""
    return error_fields(decision.code.value, decision.reason, request_id)


def error_fields(
    code: str,
    message: str,
    request_id: str,
    details: Sequence[Mapping[str, str]] | None = None,
) -> dict[str, dict[str, Any]]:
    """DESIGN's error body for any error, a denial or not; ``details`` lists the fields of
    a request body that did not validate, each as ``{"field", "message"}``."""
    error: dict[str, Any] = {"code": code, "message": message, "request_id": request_id}
    if details is not None:
        error["details"] = [dict(detail) for detail in details]
    return {"error": error}


def error_body(decision: Decision, request_id: str) -> bytes:
    return json.dumps(error_document(decision, request_id)).encode()


def denial_headers(decision: Decision, realm: str) -> dict[str, str]:
    headers = dict(decision.headers)
    if decision.status == 401:
        challenge = f'Bearer realm="{realm}"'
        if decision.code is not Code.MISSING_CREDENTIAL:
            challenge += f', error="invalid_token", error_description="{_quoted(decision.reason)}"'
        headers["WWW-Authenticate"] = challenge
    elif decision.code is Code.INSUFFICIENT_SCOPE:
        headers["WWW-Authenticate"] = f'Bearer realm="{realm}", error="insufficient_scope"'
    return headers


def _quoted(text: str) -> str:
    # RFC 6750 allows %x20-21 / %x23-5B / %x5D-7E in error_description.
    return "".join(c if " " <= c <= "~" and c not in '"\\' else "'" for c in text)[:200]
