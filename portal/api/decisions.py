"""``/v1/decisions`` and ``/v1/explain``: why the engine decided what it did on the
caller's own requests, and what it would decide on a request described but not made.

Only the key that made a request may read its explanation: another key (an admin key too)
is answered 404, as for a request id that never was, so that ids cannot be probed. Admin
keys read any key's explained decisions through ``/v1/keys/{id}/activity``. The routes
are not metered (``metered: false`` in the policies): reading why a call was refused, or
simulating one, spends none of the key's rate limits or credits.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import unquote

from fastapi import APIRouter, Path

from policyengine.request import Request
from portal.api.activity import Action, Codes, Since, Until
from portal.api.deps import CallerDep, Cursor, Limit, ServicesDep
from portal.api.explained import from_dry_run, from_record
from portal.http.errors import NotFound
from portal.http.openapi import errors
from portal.models.common import Page
from portal.models.decisions import Explanation, SimulatedRequest

router = APIRouter(tags=["decisions"])

RequestId = Annotated[
    str,
    Path(
        pattern=r"^[A-Za-z0-9._:-]{1,128}$",
        description="The request's X-Request-ID, as its response carried it.",
    ),
]


@router.get("/v1/decisions", summary="Your key's decisions", responses=errors(400))
def list_decisions(
    services: ServicesDep,
    caller: CallerDep,
    since: Since = None,
    until: Until = None,
    code: Codes = None,
    action: Action = None,
    limit: Limit = 20,
    cursor: Cursor = None,
) -> Page[Explanation]:
    """Every request the calling key made, from the console, curl or any SDK, newest
    first, each with the engine's decision explained step by step. Decisions are recorded
    just after the response, so the latest may take a moment to appear."""
    found = services.engine.monitor.decisions(
        caller.key_id,
        since=since,
        until=until,
        code=code,
        action=action,
        cursor=cursor,
        limit=limit,
    )
    directory = services.engine.directory
    return Page[Explanation](
        data=[from_record(record, directory) for record in found], next_cursor=found.next_cursor
    )


@router.get(
    "/v1/decisions/{request_id}", summary="Explain one of your requests", responses=errors(404)
)
def get_decision(services: ServicesDep, caller: CallerDep, request_id: RequestId) -> Explanation:
    """The engine's decision on one request of the calling key, by the request id its
    response carried (``X-Request-ID``, or ``request_id`` in an error body): the key and
    its type, each step (scope matched or missing, IP rule, the policy rule with its file
    and line, and why), and what was left of each limit. A request of another key is not
    found, whoever asks."""
    found = services.engine.monitor.decisions(caller.key_id, request_id=request_id, limit=1)
    for record in found:
        return from_record(record, services.engine.directory)
    raise NotFound(f"this key made no request with id {request_id}")


@router.post("/v1/explain", summary="Simulate a request")
def explain(services: ServicesDep, caller: CallerDep, asked: SimulatedRequest) -> Explanation:
    """The decision the engine would make now on the request described, made with the
    calling key, explained step by step — without executing it and without using any
    rate limit or usage credit. Nothing is recorded in the key's history. The client
    address is the caller's unless ``ip`` names another."""
    path = unquote(asked.path.partition("?")[0])
    ip = asked.ip if asked.ip is not None else caller.ip
    request = Request(
        credential=caller.credential,
        method=asked.method,
        path=path,
        ip=ip,
        headers=asked.headers,
    )
    now = services.clock()
    decision = services.engine.check(request, explain=True, dry_run=True)
    return from_dry_run(decision, now, asked.method, path, ip, services.engine.directory)
