"""``/v1/events``: events, with a name, a description, a start and an end, a location."""

from __future__ import annotations

from fastapi import APIRouter, Response

from portal.api.deps import CallerDep, Cursor, Limit, ServicesDep
from portal.http.errors import NotFound
from portal.models.common import Page
from portal.models.events import Event, EventChanges, EventFields

router = APIRouter(prefix="/v1/events", tags=["events"])


def no_event(event_id: str) -> NotFound:
    return NotFound(f"there is no event {event_id}")


@router.get("", summary="List events")
def list_events(services: ServicesDep, limit: Limit = 20, cursor: Cursor = None) -> Page[Event]:
    """Events, newest first."""
    return services.events.list(limit, cursor)


@router.post("", status_code=201, summary="Create an event")
def create_event(
    fields: EventFields, services: ServicesDep, caller: CallerDep, response: Response
) -> Event:
    event = services.events.create(fields, caller.key_id)
    services.tell("event.created", {"event": event.model_dump(mode="json")})
    response.headers["Location"] = f"/v1/events/{event.id}"
    return event


@router.get("/{id}", summary="Get an event")
def get_event(id: str, services: ServicesDep) -> Event:
    event = services.events.get(id)
    if event is None:
        raise no_event(id)
    return event


@router.patch("/{id}", summary="Change an event")
def update_event(id: str, changes: EventChanges, services: ServicesDep) -> Event:
    """Changes the fields given and keeps the rest. The event that results must validate
    as a new one would: its end is not before its start."""
    event = services.events.update(id, changes)
    if event is None:
        raise no_event(id)
    services.tell("event.updated", {"event": event.model_dump(mode="json")})
    return event


@router.delete("/{id}", status_code=204, summary="Delete an event and its members")
def delete_event(id: str, services: ServicesDep) -> Response:
    if not services.events.delete(id):
        raise no_event(id)
    services.tell("event.deleted", {"event_id": id})
    return Response(status_code=204)
