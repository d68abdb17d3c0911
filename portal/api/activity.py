"""``/v1/keys/{id}/activity``, ``/usage`` and ``/alerts``: what monitoring knows of one
key. Any key may read its own (the rule ``keys-read-themselves``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query

from portal.api.deps import Cursor, Limit, ServicesDep, own_key
from portal.api.explained import shown_location, shown_places
from portal.http.openapi import errors
from portal.models.common import Instant, Page
from portal.models.monitor import AlertEntry, DecisionEntry, LifecycleEntry, Usage, UsagePoint
from portal.services import Services

router = APIRouter(prefix="/v1/keys/{id}", tags=["keys"])

Since = Annotated[Instant | None, Query(description="From this instant (inclusive).")]
Until = Annotated[Instant | None, Query(description="Before this instant.")]
Codes = Annotated[
    list[str] | None, Query(max_length=20, description="Only decisions of these codes.")
]
Action = Annotated[str | None, Query(max_length=64, description="Only decisions of this action.")]
Activity = DecisionEntry | LifecycleEntry


def _existing(services: Services, key_id: str) -> str:
    """The key's id, once it is known to exist (a 404 otherwise)."""
    return own_key(services, key_id).id


@router.get("/activity", summary="A key's activity", responses=errors(400))
def activity(
    id: str,
    services: ServicesDep,
    since: Since = None,
    until: Until = None,
    code: Codes = None,
    action: Action = None,
    limit: Limit = 20,
    cursor: Cursor = None,
) -> Page[Activity]:
    """What the key did and what was done to it, newest first: each request it made, with
    the engine's decision explained step by step, and its lifecycle events (created,
    rotated, revoked, …) with who did them. With ``code`` or ``action``, only decisions."""
    found = services.engine.monitor.activity(
        _existing(services, id),
        since=since,
        until=until,
        code=code,
        action=action,
        cursor=cursor,
        limit=limit,
    )
    directory = services.engine.directory
    entries: list[Activity] = [
        _decision(item.as_dict(), directory)
        if item.event == "decision"
        else LifecycleEntry.model_validate(item.as_dict())
        for item in found
    ]
    return Page[Activity](data=entries, next_cursor=found.next_cursor)


def _decision(fields: dict[str, Any], directory: Path | None) -> DecisionEntry:
    """A decision as recorded, its policy files named relative to the policies' parent
    folder, never by the server's absolute path (as ``/v1/decisions`` names them)."""
    entry = DecisionEntry.model_validate(fields)
    return entry.model_copy(
        update={
            "rule_location": shown_location(entry.rule_location, directory),
            "trace": [
                step.model_copy(update={"detail": shown_places(step.detail, directory)})
                for step in entry.trace
            ],
        }
    )


@router.get("/usage", summary="A key's usage", responses=errors(400))
def usage(
    id: str,
    services: ServicesDep,
    step: Literal["minute", "hour", "day"] = "minute",
    since: Since = None,
    until: Until = None,
) -> Usage:
    """The key's requests, allowed and denied (by code), the least rate-limit headroom and
    the credits spent, per minute, hour or day (UTC), oldest first: by default the last
    hour, day or 30 days."""
    points = services.engine.monitor.usage(
        _existing(services, id), since=since, until=until, step=step
    )
    return Usage(data=[UsagePoint.model_validate(point.as_dict()) for point in points])


@router.get("/alerts", summary="A key's alerts", responses=errors(400))
def alerts(
    id: str,
    services: ServicesDep,
    state: Literal["open", "closed"] | None = None,
    limit: Limit = 20,
    cursor: Cursor = None,
) -> Page[AlertEntry]:
    """The alerts raised about the key, newest first."""
    found = services.engine.monitor.alerts(
        subject=_existing(services, id), state=state, limit=limit, cursor=cursor
    )
    return Page[AlertEntry](
        data=[AlertEntry.model_validate(alert.as_dict()) for alert in found],
        next_cursor=found.next_cursor,
    )
