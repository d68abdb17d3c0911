"""API keys as the API shows them: never a secret, except the once a key is made."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from policyengine.keys.store import KeyState
from policyengine.record import KeyRecord
from portal.models.common import Body, Duration, RateText, text

Refill = Literal["daily", "monthly", "never"]
Short = Annotated[str, text(512)]

_KEY: Any = {
    "id": "key_7Hc2LmP9qRt4VwX1yZ3a",
    "type": "scoped",
    "label": "CI trigger",
    "environment": "test",
    "display": "tdoc_test_…Xb2K",
    "state": "active",
    "created_at": "2026-01-12T10:00:00Z",
    "expires_at": "2026-04-12T10:00:00Z",
    "last_used_at": "2026-01-12T10:05:00Z",
    "scopes": ["tasks:trigger"],
    "allowed_ips": ["198.51.100.7/32"],
    "rate_limits": {"default": {"limit": 300, "period_seconds": 60, "burst": 300}},
    "usage": None,
    "metadata": {"team": "platform"},
    "disabled": False,
    "revoked_at": None,
    "rotated_to": None,
    "rotated_from": None,
    "grace_until": None,
}
# An example only: its checksum is wrong, so no scanner takes it for a key.
_SECRET = "tdoc_test_EXAMPLEexampleEXAMPLEexample000000"  # noqa: S105


class Usage(BaseModel):
    credits: int = Field(ge=1, le=10**12, description="Requests allowed per refill period.")
    refill: Refill = "monthly"


class RateLimit(BaseModel):
    limit: int
    period_seconds: float
    burst: int


class KeyFields(Body):
    """What ``engine.keys.create`` takes. Without ``environment``, the server's."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "type": "scoped",
                    "label": "CI trigger",
                    "environment": "test",
                    "expires_in": "30d",
                    "scopes": ["tasks:trigger"],
                    "allowed_ips": ["198.51.100.7"],
                }
            ]
        }
    )

    type: Annotated[str, text(64, min_length=1)] = Field(description="A key type of the policies.")
    label: Annotated[str, text(200)] = Field(description="What the key is for.")
    environment: Literal["test", "live"] | None = None
    expires_in: Duration | None = Field(
        default=None, description="Lifetime, such as 30d; the type's maximum when absent."
    )
    allowed_ips: list[Annotated[str, text(64)]] | None = Field(default=None, max_length=256)
    rate_limit: RateText | None = Field(
        default=None, description="Overrides the type's default limit, such as 100/minute."
    )
    rate_limits: dict[Annotated[str, text(32)], RateText] | None = None
    scopes: list[Annotated[str, text(200)]] | None = Field(
        default=None, max_length=100, description="Scoped keys only: the key's own scopes."
    )
    usage: Usage | None = None
    metadata: dict[Annotated[str, text(64)], Short] | None = None


class Key(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [_KEY]})

    id: str
    type: str
    label: str
    environment: Literal["test", "live"]
    display: str = Field(description="The key's prefix and last four characters.")
    state: KeyState
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None = Field(description="To the minute.")
    scopes: list[str]
    allowed_ips: list[str]
    rate_limits: dict[str, RateLimit]
    usage: Usage | None
    metadata: dict[str, str]
    disabled: bool
    revoked_at: datetime | None
    rotated_to: str | None
    rotated_from: str | None
    grace_until: datetime | None

    @classmethod
    def of(cls, record: KeyRecord, now: datetime) -> Key:
        return cls(
            id=record.id,
            type=record.type,
            label=record.label,
            environment=record.environment,
            display=record.display,
            state=record.state(now),  # type: ignore[arg-type]
            created_at=record.created_at,
            expires_at=record.expires_at,
            last_used_at=record.last_used_at,
            scopes=list(record.scopes),
            allowed_ips=list(record.allowed_ips),
            rate_limits={
                name: RateLimit(limit=r.limit, period_seconds=r.period, burst=r.burst)
                for name, r in record.rate_limits.items()
            },
            usage=None
            if record.usage is None
            else Usage(credits=record.usage.credits, refill=record.usage.refill),
            metadata=dict(record.metadata),
            disabled=record.disabled,
            revoked_at=record.revoked_at,
            rotated_to=record.rotated_to,
            rotated_from=record.rotated_from,
            grace_until=record.grace_until,
        )


class KeyCreated(BaseModel):
    """A new key and its secret, shown this once and stored nowhere."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"secret": _SECRET, "key": _KEY}]})

    secret: str = Field(description="The whole key. Shown once: keep it now.")
    key: Key


class Rotation(Body):
    model_config = ConfigDict(json_schema_extra={"examples": [{"grace": "1h"}]})

    grace: Duration = Field(
        default="1h", description="How long the old secret keeps working, such as 1h or 0s."
    )
    expires_in: Duration | None = Field(
        default=None, description="The new key's lifetime; the old one's when absent."
    )


class Revocation(Body):
    model_config = ConfigDict(json_schema_extra={"examples": [{"reason": "leaked in a log"}]})

    reason: Annotated[str, text(200)] | None = None
