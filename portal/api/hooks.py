"""``/v1/hooks``: URLs that receive tDoc's events, signed (Standard Webhooks)."""

from __future__ import annotations

import json
from typing import Literal

from fastapi import APIRouter, Response

from policyengine.monitor.delivery_log import Delivery as QueuedDelivery
from policyengine.monitor.hook_urls import RedactedHookUrl, redact_hook_url
from portal.api.deps import CallerDep, Cursor, Limit, ServicesDep
from portal.api.scopes import require_reading
from portal.http.errors import Conflict, NotFound
from portal.http.openapi import errors
from portal.models.common import Page
from portal.models.hooks import Attempt, Delivery, Hook, HookCreated, HookFields
from portal.store.hooks import TooManyHooks

router = APIRouter(prefix="/v1/hooks", tags=["hooks"])


def no_hook(hook_id: str) -> NotFound:
    return NotFound(f"there is no hook {hook_id}")


def shown(hook: Hook) -> Hook:
    """A hook as it is read back: every part of its URL that could be a credential hidden
    (path tokens such as Slack's or Discord's, token-like and secret-named query values;
    :mod:`policyengine.monitor.hook_urls` has the rule), as in the logs, so that a key
    that may read hooks cannot post to them. The whole URL is answered once, at creation."""
    return hook.model_copy(update={"url": redact_hook_url(hook.url)})


@router.get("", summary="List hooks")
def list_hooks(services: ServicesDep, limit: Limit = 20, cursor: Cursor = None) -> Page[Hook]:
    page = services.hooks.list(limit, cursor)
    return page.model_copy(update={"data": [shown(hook) for hook in page.data]})


@router.post("", status_code=201, summary="Register a hook", responses=errors(409))
def create_hook(
    fields: HookFields, services: ServicesDep, caller: CallerDep, response: Response
) -> HookCreated:
    """Registers a URL for the kinds of event it wants, and answers the secret its
    deliveries are signed with, this once. Each delivery is a POST of
    ``{"type", "timestamp", "data"}`` with the ``webhook-id``, ``webhook-timestamp`` and
    ``webhook-signature`` headers of the Standard Webhooks specification; verify them with
    its libraries and the secret. Deliveries are retried with backoff; a URL that
    resolves to a private, loopback or link-local address is refused. A key may have at
    most 20 hooks registered at once (``409`` beyond). A hook hears only
    what the key that registers it may read: ``key.*`` and ``alert.*`` take
    ``keys:read``, ``event.*`` ``events:read``, ``task.*`` ``tasks:read``."""
    require_reading(services, caller, fields.events)
    try:
        hook, secret = services.hooks.create(fields, caller.key_id)
    except TooManyHooks as error:
        raise Conflict(str(error)) from None
    response.headers["Location"] = f"/v1/hooks/{hook.id}"
    return HookCreated(secret=secret, hook=hook)


@router.get("/{id}", summary="Get a hook")
def get_hook(id: str, services: ServicesDep) -> Hook:
    hook = services.hooks.get(id)
    if hook is None:
        raise no_hook(id)
    return shown(hook)


@router.delete("/{id}", status_code=204, summary="Delete a hook")
def delete_hook(id: str, services: ServicesDep, caller: CallerDep) -> Response:
    """The hook gets nothing more, not even the retries of deliveries already queued. A
    hook is deleted only by a key that could register it: one that may not read keys
    cannot silence a hook that watches them."""
    hook = services.hooks.get(id)
    if hook is None:
        raise no_hook(id)
    require_reading(services, caller, hook.events)
    if not services.hooks.delete(id):
        raise no_hook(id)
    return Response(status_code=204)


@router.get("/{id}/deliveries", summary="A hook's delivery log")
def deliveries(
    id: str,
    services: ServicesDep,
    caller: CallerDep,
    state: Literal["pending", "retrying", "delivered", "dead"] | None = None,
    limit: Limit = 20,
    cursor: Cursor = None,
) -> Page[Delivery]:
    """What was sent to the hook, newest first, with every attempt: when, how long, the
    receiver's status or what went wrong. ``dead`` deliveries failed every attempt. The
    log holds what the hook heard, so reading it takes the scopes registering it did."""
    hook = services.hooks.get(id)
    if hook is None:
        raise no_hook(id)
    require_reading(services, caller, hook.events)
    found = services.notices.queue.list(id, state=state, limit=limit, cursor=cursor)
    return Page[Delivery](data=[delivery_of(item) for item in found], next_cursor=found.next_cursor)


@router.post(
    "/{id}/deliveries/{delivery}/replay",
    summary="Send a delivery again",
    responses=errors(409),
)
def replay(id: str, delivery: str, services: ServicesDep, caller: CallerDep) -> Delivery:
    """Sends the delivery again, now, with a fresh retry schedule and the same
    ``webhook-id`` (receivers drop repeats by it); its earlier attempts stay in the log."""
    queue = services.notices.queue
    hook = services.hooks.get(id)
    found = queue.get(delivery) if hook is not None else None
    if hook is None or found is None or found.target != id:
        raise NotFound(f"hook {id} has no delivery {delivery}")
    require_reading(services, caller, hook.events)
    return delivery_of(queue.replay(delivery))


def delivery_of(item: QueuedDelivery) -> Delivery:
    # Attempts are logged without the URL's secrets; an older log may still quote them.
    url = RedactedHookUrl(item.url)
    return Delivery(
        id=item.id,
        hook_id=item.target,
        kind=item.event_type,
        state=item.state,
        created_at=item.created_at,
        next_attempt_at=item.next_attempt_at,
        delivered_at=item.delivered_at,
        tries=item.tries,
        attempts=[
            Attempt(
                number=attempt.number,
                started_at=attempt.started_at,
                duration_ms=round(attempt.duration * 1000, 3),
                status=attempt.status,
                error=None if attempt.error is None else url.scrub(attempt.error),
            )
            for attempt in item.attempts
        ],
        body=json.loads(item.body),
    )
