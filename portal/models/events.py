"""Events, and the members who may see or change them."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from portal.models.common import (
    Body,
    Changes,
    Description,
    Instant,
    Name,
    text,
    without_nulls,
)

Location = Annotated[str, text(500)]
Role = Literal["viewer", "editor", "owner"]

_EXAMPLE: Any = {
    "name": "Quarterly planning",
    "description": "Where the next quarter's roadmap is agreed.",
    "starts_at": "2026-03-02T09:00:00+01:00",
    "ends_at": "2026-03-02T17:30:00+01:00",
    "location": "Berlin, room 4.12",
}


def _ends_after_start(ends_at: datetime | None, info: ValidationInfo) -> datetime | None:
    starts_at = info.data.get("starts_at")
    if ends_at is not None and starts_at is not None and ends_at < starts_at:
        raise ValueError("ends_at must not be before starts_at")
    return ends_at


class EventFields(Body):
    """A new event. ``starts_at`` and ``ends_at`` carry a UTC offset, and the end is not
    before the start."""

    model_config = ConfigDict(json_schema_extra={"examples": [_EXAMPLE]})

    name: Name
    description: Description = ""
    starts_at: Instant
    ends_at: Instant
    location: Location = ""

    _order = field_validator("ends_at")(_ends_after_start)


class EventChanges(Changes):
    """Fields to change; the rest stay. The event that results is validated as a whole,
    like a new one."""

    model_config = ConfigDict(
        json_schema_extra=without_nulls([{"location": "Online", "ends_at": _EXAMPLE["ends_at"]}])
    )

    name: Name | None = None
    description: Description | None = None
    starts_at: Instant | None = None
    ends_at: Instant | None = None
    location: Location | None = None


class Event(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "evt_4kQz9XbT2mW7yR1cN8pL",
                    **_EXAMPLE,
                    "created_at": "2026-01-12T10:15:00Z",
                    "updated_at": "2026-01-12T10:15:00Z",
                    "created_by": "key_7Hc2LmP9qRt4VwX1yZ3a",
                }
            ]
        }
    )

    id: str
    name: str
    description: str
    starts_at: datetime
    ends_at: datetime
    location: str
    created_at: datetime
    updated_at: datetime
    created_by: str = Field(description="The key that created the event.")


class MemberRole(Body):
    model_config = ConfigDict(json_schema_extra={"examples": [{"role": "editor"}]})

    role: Role = Field(
        description="viewer reads the event, editor changes it, owner also manages members."
    )


class Member(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "event_id": "evt_4kQz9XbT2mW7yR1cN8pL",
                    "user": "ada@example.com",
                    "role": "editor",
                    "created_at": "2026-01-12T10:20:00Z",
                    "updated_at": "2026-01-12T10:20:00Z",
                }
            ]
        }
    )

    event_id: str
    user: str
    role: Role
    created_at: datetime
    updated_at: datetime
