"""``/v1/hooks``: URLs that receive tDoc's events, signed (Standard Webhooks)."""

from __future__ import annotations

from fastapi import APIRouter, Response

from portal.api.deps import CallerDep, Cursor, Limit, ServicesDep
from portal.http.errors import NotFound
from portal.models.common import Page
from portal.models.hooks import Hook, HookCreated, HookFields

router = APIRouter(prefix="/v1/hooks", tags=["hooks"])


def no_hook(hook_id: str) -> NotFound:
    return NotFound(f"there is no hook {hook_id}")


@router.get("", summary="List hooks")
def list_hooks(services: ServicesDep, limit: Limit = 20, cursor: Cursor = None) -> Page[Hook]:
    return services.hooks.list(limit, cursor)


@router.post("", status_code=201, summary="Register a hook")
def create_hook(
    fields: HookFields, services: ServicesDep, caller: CallerDep, response: Response
) -> HookCreated:
    """Registers a URL for the kinds of event it wants, and answers the secret its
    deliveries are signed with, this once. Each delivery is a POST of
    ``{"type", "timestamp", "data"}`` with the ``webhook-id``, ``webhook-timestamp`` and
    ``webhook-signature`` headers of the Standard Webhooks specification; verify them with
    its libraries and the secret. Deliveries are retried with backoff; a URL that
    resolves to a private, loopback or link-local address is refused."""
    hook, secret = services.hooks.create(fields, caller.key_id)
    response.headers["Location"] = f"/v1/hooks/{hook.id}"
    return HookCreated(secret=secret, hook=hook)


@router.get("/{id}", summary="Get a hook")
def get_hook(id: str, services: ServicesDep) -> Hook:
    hook = services.hooks.get(id)
    if hook is None:
        raise no_hook(id)
    return hook


@router.delete("/{id}", status_code=204, summary="Delete a hook")
def delete_hook(id: str, services: ServicesDep) -> Response:
    """The hook gets nothing more, not even the retries of deliveries already queued."""
    if not services.hooks.delete(id):
        raise no_hook(id)
    return Response(status_code=204)
