"""``/v1/keys``: API keys, through ``engine.keys`` like any embedding application."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response

from policyengine.keys.store import KeyState
from policyengine.record import Usage as KeyUsage
from portal.api.deps import CallerDep, Cursor, Limit, ServicesDep, other_environment, own_key
from portal.http.errors import BadRequest
from portal.http.openapi import errors
from portal.models.common import Page
from portal.models.keys import Key, KeyCreated, KeyFields, Revocation, Rotation

router = APIRouter(prefix="/v1/keys", tags=["keys"])


@router.get("", summary="List keys", responses=errors(400))
def list_keys(
    services: ServicesDep,
    environment: Literal["test", "live"] | None = None,
    type: Annotated[str | None, Query(max_length=64, pattern=r"^[^\x00]*$")] = None,
    state: KeyState | None = None,
    label: Annotated[
        str | None, Query(max_length=200, description="Any part of the label, in any case.")
    ] = None,
    limit: Limit = 20,
    cursor: Cursor = None,
) -> Page[Key]:
    """The server's environment's keys, newest first, filtered by type, state and label
    (``environment``, when given, must be the server's)."""
    if environment is not None and environment != services.engine.environment:
        raise BadRequest(other_environment(services, environment))
    found = services.engine.keys.list(
        environment=services.engine.environment,
        type=type,
        state=state,
        label=label,
        limit=limit,
        cursor=cursor,
    )
    now = services.clock()
    return Page[Key](data=[Key.of(k, now) for k in found], next_cursor=found.next_cursor)


@router.post("", status_code=201, summary="Create a key", responses=errors(400))
def create_key(
    fields: KeyFields, services: ServicesDep, caller: CallerDep, response: Response
) -> KeyCreated:
    """Creates a key and answers its secret, this once. The policies decide what a key of
    each type may be: its scopes, its longest lifetime, what it must carry."""
    engine = services.engine
    if fields.environment is not None and fields.environment != engine.environment:
        raise BadRequest(other_environment(services, fields.environment))
    issued = engine.keys.create(
        type=fields.type,
        label=fields.label,
        environment=engine.environment,
        expires_in=fields.expires_in,
        allowed_ips=fields.allowed_ips,
        rate_limit=fields.rate_limit,
        rate_limits=fields.rate_limits,
        scopes=fields.scopes,
        usage=None
        if fields.usage is None
        else KeyUsage(credits=fields.usage.credits, refill=fields.usage.refill),
        metadata=fields.metadata,
        actor=caller.actor,
    )
    response.headers["Location"] = f"/v1/keys/{issued.key.id}"
    return KeyCreated(secret=issued.secret, key=Key.of(issued.key, services.clock()))


@router.get("/{id}", summary="Get a key", responses=errors(400))
def get_key(id: str, services: ServicesDep) -> Key:
    """Any key may read its own record."""
    return Key.of(own_key(services, id), services.clock())


@router.post("/{id}/rotate", status_code=201, summary="Rotate a key", responses=errors(400, 409))
def rotate_key(
    id: str,
    services: ServicesDep,
    caller: CallerDep,
    response: Response,
    rotation: Rotation | None = None,
) -> KeyCreated:
    """A new key with the same attributes, its secret answered this once; the old secret
    keeps working for the grace period, then counts as revoked."""
    asked = rotation or Rotation()
    own_key(services, id)
    issued = services.engine.keys.rotate(
        id, grace=asked.grace, expires_in=asked.expires_in, actor=caller.actor
    )
    response.headers["Location"] = f"/v1/keys/{issued.key.id}"
    return KeyCreated(secret=issued.secret, key=Key.of(issued.key, services.clock()))


@router.post("/{id}/disable", summary="Disable a key", responses=errors(400, 409))
def disable_key(id: str, services: ServicesDep, caller: CallerDep) -> Key:
    """Stops the key working until it is enabled again; nothing else about it changes.
    Disabling twice is harmless; a revoked or expired key cannot be disabled."""
    own_key(services, id)
    return Key.of(services.engine.keys.disable(id, actor=caller.actor), services.clock())


@router.post("/{id}/enable", summary="Enable a disabled key", responses=errors(400, 409))
def enable_key(id: str, services: ServicesDep, caller: CallerDep) -> Key:
    own_key(services, id)
    return Key.of(services.engine.keys.enable(id, actor=caller.actor), services.clock())


@router.post("/{id}/revoke", summary="Revoke a key", responses=errors(400))
def revoke_key(
    id: str, services: ServicesDep, caller: CallerDep, revocation: Revocation | None = None
) -> Key:
    """Ends the key at once, grace period or not. Revoking twice is harmless."""
    reason = revocation.reason if revocation is not None else None
    own_key(services, id)
    revoked = services.engine.keys.revoke(id, reason=reason, actor=caller.actor)
    return Key.of(revoked, services.clock())
