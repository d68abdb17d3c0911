"""``/v1/events/{id}/members``: the people of an event, each with a role."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response

from portal.api.deps import Cursor, Limit, ServicesDep
from portal.api.events import no_event
from portal.http.errors import NotFound
from portal.models.common import USER_PATTERN, Page
from portal.models.events import Member, MemberRole

router = APIRouter(prefix="/v1/events/{id}/members", tags=["events"])

User = Annotated[
    str, Path(pattern=USER_PATTERN, description="The member: a user name or e-mail address.")
]


@router.get("", summary="List an event's members")
def list_members(
    id: str, services: ServicesDep, limit: Limit = 20, cursor: Cursor = None
) -> Page[Member]:
    members = services.events.members(id, limit, cursor)
    if members is None:
        raise no_event(id)
    return members


@router.put(
    "/{user}",
    summary="Add a member, or change a member's role",
    responses={201: {"model": Member, "description": "The member was added."}},
)
def put_member(
    id: str, user: User, role: MemberRole, services: ServicesDep, response: Response
) -> Member:
    """Answers 201 when the user was not a member yet, 200 when the role changed."""
    stored = services.events.put_member(id, user, role.role)
    if stored is None:
        raise no_event(id)
    member, created = stored
    services.tell("event.member.updated", {"member": member.model_dump(mode="json")})
    response.status_code = 201 if created else 200
    return member


@router.delete("/{user}", status_code=204, summary="Remove a member")
def remove_member(id: str, user: User, services: ServicesDep) -> Response:
    if not services.events.remove_member(id, user):
        if services.events.get(id) is None:
            raise no_event(id)
        raise NotFound(f"{user} is not a member of {id}")
    services.tell("event.member.removed", {"event_id": id, "user": user})
    return Response(status_code=204)
