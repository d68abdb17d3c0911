"""A decision explained: what the engine decided on one request of the caller's key, and
why, step by step; and the request ``POST /v1/explain`` is asked to simulate."""

from __future__ import annotations

import ipaddress
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from portal.models.common import Body
from portal.models.monitor import TraceStep

_EXAMPLE: Any = {
    "request_id": "req_3f9a2c1b7d4e000000000000002a",
    "time": "2026-01-12T10:05:00Z",
    "simulated": False,
    "allowed": False,
    "code": "INSUFFICIENT_SCOPE",
    "status": 403,
    "step": "scope",
    "reason": "no scope of this read-only key grants events:write",
    "request": {"method": "POST", "path": "/v1/events", "ip": "203.0.113.9"},
    "key": {"id": "key_3Fq8ZmW1cXv6TbR9kLpD", "type": "read-only", "environment": "test"},
    "rule": {"name": "scope", "file": None, "line": None},
    "error": None,
    "trace": [
        {"step": "state", "passed": True, "detail": "the key is usable"},
        {"step": "environment", "passed": True, "detail": "test key in the test environment"},
        {"step": "ip", "passed": True, "detail": "203.0.113.9 is allowed"},
        {
            "step": "scope",
            "passed": False,
            "detail": "no scope of this read-only key grants events:write",
        },
    ],
    "limits": [],
}


class ExplainedRequest(BaseModel):
    method: str | None
    path: str | None
    ip: str | None = Field(description="The client address the engine judged.")


class ExplainedKey(BaseModel):
    id: str
    type: str
    environment: str


class ExplainedRule(BaseModel):
    """What decided: a policy rule with the file and line it is written at, or a step of
    the check (no file)."""

    name: str
    file: str | None = Field(description="The policy file, relative to the policies' parent.")
    line: int | None


class ExplainedLimit(BaseModel):
    name: str = Field(description="The limit's name; ``usage`` for usage credits.")
    limit: int = Field(description="Requests per window, or the credits of a period.")
    remaining: int
    window: float | None = Field(default=None, description="The window in seconds.")
    reset: float | None = Field(default=None, description="Seconds until it is full again.")


class Explanation(BaseModel):
    """One decision of the engine, explained: the key and its type, every step of the
    check (the scope that matched or was missing, the IP rule, the policy rule with its file
    and line), and how much of each limit is left after it."""

    model_config = ConfigDict(json_schema_extra={"examples": [_EXAMPLE]})

    request_id: str | None = Field(description="The request's X-Request-ID; none when simulated.")
    time: datetime
    simulated: bool = Field(description="Explained without being executed or counted.")
    allowed: bool
    code: str
    status: int
    step: str = Field(description="The step that decided, or ``done`` when allowed.")
    reason: str
    request: ExplainedRequest
    key: ExplainedKey | None
    rule: ExplainedRule | None
    error: str | None
    trace: list[TraceStep]
    limits: list[ExplainedLimit]


Method = Literal["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
HeaderName = Annotated[str, StringConstraints(pattern=r"^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,100}$")]
HeaderValue = Annotated[
    str, StringConstraints(pattern=r"^[\t\x20-\x7e\x80-\xff]*$", max_length=4096)
]


class SimulatedRequest(Body):
    """A request to explain as the caller's key would be judged making it now."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"method": "POST", "path": "/v1/events", "ip": "203.0.113.9"}]
        },
    )

    method: Method
    path: str = Field(
        min_length=1,
        max_length=2048,
        description="The path as sent, percent-encoded, with or without a query string.",
    )
    headers: dict[HeaderName, HeaderValue] = Field(
        default_factory=dict, max_length=50, description="Request headers, by name."
    )
    ip: str | None = Field(
        default=None,
        max_length=64,
        description="The client address to judge; by default the caller's own.",
    )

    @field_validator("ip")
    @classmethod
    def _an_address(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                ipaddress.ip_address(value)
            except ValueError:
                raise ValueError(f"{value!r} is not an IPv4 or IPv6 address") from None
        return value
