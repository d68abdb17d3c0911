"""Hooks: a URL and the kinds of event it wants, delivered signed (Standard Webhooks)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from policyengine.monitor.targets import TargetRefused, parse_target_url
from portal.models.common import Body, Description

#: ``event.*``, ``task.run.succeeded``, ``*``: a family of kinds, or one kind.
KIND_PATTERN = r"^(\*|(event|task|key|alert)(\.[a-z][a-z0-9_]*)*(\.\*)?)$"
Kind = Annotated[str, StringConstraints(pattern=KIND_PATTERN, max_length=100)]

_EXAMPLE: Any = {
    "url": "https://hooks.example.com/tdoc",
    "events": ["event.*", "task.run.*"],
    "description": "Tell the team's bot about events and runs",
}
_HOOK: Any = {"id": "hk_5TgW2nQx8RcM1vLz7KbP", **_EXAMPLE, "created_at": "2026-01-12T10:30:00Z"}


def subscribed(patterns: list[str], kind: str) -> bool:
    """Whether a hook with ``patterns`` wants events of ``kind``: ``*`` wants every kind,
    ``task.*`` every kind under ``task.``, anything else that kind exactly."""
    for pattern in patterns:
        if pattern == "*" or pattern == kind:
            return True
        if pattern.endswith(".*") and kind.startswith(pattern[:-1]):
            return True
    return False


class HookFields(Body):
    model_config = ConfigDict(json_schema_extra={"examples": [_EXAMPLE]})

    url: str = Field(
        max_length=2048, description="Where deliveries are POSTed: an http or https URL."
    )
    events: list[Kind] = Field(
        min_length=1,
        max_length=20,
        description="The kinds of event wanted: event.*, task.run.*, key.*, alert.*, one "
        "kind such as task.run.succeeded, or * for all.",
    )
    description: Description = ""

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        # The form a delivery will check (scheme, host, no credentials, ASCII path), checked
        # now, so that a URL no attempt could reach is refused rather than retried to death.
        try:
            parse_target_url(value)
        except TargetRefused as error:
            reason = error.reason
            raise ValueError(f"a hook's URL is http:// or https:// with a host: {reason}") from None
        if urlsplit(value).fragment:
            raise ValueError("a hook's URL has no fragment")
        return value

    @field_validator("events")
    @classmethod
    def _unique(cls, value: list[str]) -> list[str]:
        return list(dict.fromkeys(value))


class Hook(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [_HOOK]})

    id: str
    url: str
    events: list[str]
    description: str
    created_at: datetime


class HookCreated(BaseModel):
    """A new hook and its signing secret, shown this once."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "hook": _HOOK}]
        }
    )

    secret: str = Field(
        description="The key that signs deliveries (whsec_…), for the receiver to verify "
        "them with a Standard Webhooks library. Shown once."
    )
    hook: Hook


class Attempt(BaseModel):
    number: int
    started_at: datetime
    duration_ms: float
    status: int | None = Field(description="The receiver's HTTP status, if it answered.")
    error: str | None = Field(description="What went wrong; null for a delivered attempt.")


class Delivery(BaseModel):
    """One event sent to one hook, with every attempt to send it."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "msg_2KWPBgLlAfxdpx2AI54pPJ85",
                    "hook_id": "hk_5TgW2nQx8RcM1vLz7KbP",
                    "kind": "task.run.succeeded",
                    "state": "delivered",
                    "created_at": "2026-01-12T10:16:01Z",
                    "next_attempt_at": None,
                    "delivered_at": "2026-01-12T10:16:01.2Z",
                    "tries": 1,
                    "attempts": [
                        {
                            "number": 1,
                            "started_at": "2026-01-12T10:16:01.1Z",
                            "duration_ms": 85.0,
                            "status": 204,
                            "error": None,
                        }
                    ],
                    "body": {
                        "type": "task.run.succeeded",
                        "timestamp": "2026-01-12T10:16:01Z",
                        "data": {"run": {"id": "run_3fHq8ZmW1cXv6TbR9kLp"}},
                    },
                }
            ]
        }
    )

    id: str = Field(description="The webhook-id header the receiver got.")
    hook_id: str
    kind: str
    state: Literal["pending", "retrying", "delivered", "dead"]
    created_at: datetime
    next_attempt_at: datetime | None
    delivered_at: datetime | None
    tries: int = Field(description="Attempts since it was queued or last replayed.")
    attempts: list[Attempt]
    body: dict[str, Any] = Field(description="Exactly what was POSTed.")
