"""What monitoring answers about a key: its activity (each decision, with the engine's
explanation, and each lifecycle event), its usage over time, and its alerts. The fields
are those of the monitor's own records (``as_dict``), as the command line prints them."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

_DECISION: Any = {
    "event": "decision",
    "id": "dec_4Nq8ZkW1cXv6TbR9kLpQ",
    "at": "2026-01-12T10:05:00Z",
    "request_id": "req_3f9a2c1b7d4e000000000000002a",
    "allowed": False,
    "code": "INSUFFICIENT_SCOPE",
    "status": 403,
    "step": "scope",
    "reason": "no scope of this read-only key grants events:write",
    "credential": "key",
    "key_id": "key_3Fq8ZmW1cXv6TbR9kLpD",
    "key_type": "read-only",
    "key_environment": "test",
    "key_expires_at": None,
    "method": "POST",
    "path": "/v1/events",
    "resource": "events",
    "action": "write",
    "client": "203.0.113.9",
    "rule": "scope",
    "rule_location": None,
    "error": None,
    "latency_us": 21,
    "limits": [],
    "environment": "test",
    "policy": "5f0c…",
    "trace": [
        {"step": "state", "passed": True, "detail": "the key is active"},
        {
            "step": "scope",
            "passed": False,
            "detail": "no scope of this read-only key grants events:write",
        },
    ],
}
_EVENT: Any = {
    "id": "aud_0000000000000007",
    "seq": 7,
    "at": "2026-01-12T10:00:00Z",
    "event": "key.created",
    "actor": "key:key_9Zt4QmW2xR7cT1vB8nLa",
    "subject": "key_3Fq8ZmW1cXv6TbR9kLpD",
    "details": {"type": "read-only", "environment": "test"},
    "prev": "…",
    "mac": "…",
}


class LimitLeft(BaseModel):
    name: str
    remaining: int
    quota: int


class TraceStep(BaseModel):
    step: str
    passed: bool
    detail: str


class DecisionEntry(BaseModel):
    """One request the key made, decided as recorded; ``trace`` explains it step by step."""

    model_config = ConfigDict(json_schema_extra={"examples": [_DECISION]})

    event: Literal["decision"]
    id: str
    at: datetime
    request_id: str
    allowed: bool
    code: str
    status: int
    step: str
    reason: str
    credential: Literal["key", "token", "none"]
    key_id: str | None
    key_type: str | None
    key_environment: str | None
    key_expires_at: datetime | None
    method: str | None
    path: str | None
    resource: str | None
    action: str | None
    client: str | None
    rule: str | None
    rule_location: str | None
    error: str | None
    latency_us: int
    limits: list[LimitLeft]
    environment: str
    policy: str
    trace: list[TraceStep]


class LifecycleEntry(BaseModel):
    """Something done to the key (``key.created``, ``key.rotated``, ``key.revoked``, …),
    from the audit log, with who did it."""

    model_config = ConfigDict(json_schema_extra={"examples": [_EVENT]})

    id: str
    seq: int
    at: datetime
    event: str = Field(pattern=r"^key\.")
    actor: str
    subject: str
    details: dict[str, Any]
    prev: str
    mac: str


class UsagePoint(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "start": "2026-01-12T10:05:00Z",
                    "step": "minute",
                    "requests": 12,
                    "allowed": 10,
                    "denied": {"INSUFFICIENT_SCOPE": 2},
                    "headroom": 0.93,
                    "credits": 0,
                }
            ]
        }
    )

    start: datetime
    step: Literal["minute", "hour", "day"]
    requests: int
    allowed: int
    denied: dict[str, int] = Field(description="Denied requests by decision code.")
    headroom: float | None = Field(
        description="The least fraction of a rate limit left after any request."
    )
    credits: int = Field(description="Usage credits spent.")


class Usage(BaseModel):
    """A key's use per minute, hour or day, oldest first."""

    data: list[UsagePoint]
    next_cursor: None = None


class AlertEntry(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "alr_2Kq9WmZ4xR7cT1vB8nLa",
                    "kind": "new_network",
                    "severity": "warning",
                    "subject": "key_3Fq8ZmW1cXv6TbR9kLpD",
                    "subject_type": "key",
                    "message": "the key was used from 198.51.100.0/24, a network it never used",
                    "evidence": {"network": "198.51.100.0/24"},
                    "first_seen": "2026-01-12T10:05:00Z",
                    "last_seen": "2026-01-12T10:09:00Z",
                    "count": 3,
                    "state": "open",
                    "closed_at": None,
                }
            ]
        }
    )

    id: str
    kind: str
    severity: Literal["info", "warning", "critical"]
    subject: str
    subject_type: Literal["key", "address"]
    message: str
    evidence: dict[str, Any]
    first_seen: datetime
    last_seen: datetime
    count: int
    state: Literal["open", "closed"]
    closed_at: datetime | None
