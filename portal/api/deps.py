"""What the routes are handed: the services, the caller the engine let in, list paging."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Query, Request
from pydantic import AfterValidator

from policyengine.decision import Decision
from policyengine.errors import KeyNotFound
from policyengine.integrations.asgi import STATE_KEY
from policyengine.integrations.http import bearer, scope_headers
from policyengine.net import client_address, format_ip
from policyengine.record import KeyRecord
from portal.services import Services
from portal.store.paging import decode_cursor


def services(request: Request) -> Services:
    found: Services = request.app.state.services
    return found


@dataclass(frozen=True, slots=True)
class Caller:
    """Who is calling, as the engine decided: the key, and the credential it presented
    (an API key or a token; kept in memory for this request only)."""

    key_id: str
    credential: str
    ip: str | None
    decision: Decision

    @property
    def actor(self) -> str:
        """Who the caller is in the audit log: ``key:<id>``."""
        return f"key:{self.key_id}"


def caller(request: Request) -> Caller:
    decision = request.scope.get("state", {}).get(STATE_KEY)
    if not isinstance(decision, Decision) or decision.key is None:
        # Every route sits behind the engine's middleware; reaching here without its
        # decision is a wiring fault, and it must not be taken for permission.
        raise RuntimeError("the route was reached without the engine's decision")
    credential = bearer(request.headers.get("authorization")) or ""
    return Caller(decision.key.id, credential, _client_ip(request), decision)


def _client_ip(request: Request) -> str | None:
    """The client's address as the engine judged it: behind a trusted proxy, the client
    its forwarding header names, not the proxy. A run's requests come from it, and a
    simulation defaults to it, so they are judged by the networks the caller is in."""
    if request.client is None:
        return None
    # The engine denied any request whose forwarding header names no client, so this one
    # names one; were it not so, the error fails the request rather than guess.
    headers = scope_headers(request.scope)
    proxies = services(request).engine.proxies
    return format_ip(client_address(request.client.host, headers, proxies))


ServicesDep = Annotated[Services, Depends(services)]
CallerDep = Annotated[Caller, Depends(caller)]
Limit = Annotated[int, Query(ge=1, le=100, description="How many items to return.")]


def _cursor(value: str | None) -> str | None:
    if value is not None:
        decode_cursor(value)
    return value


Cursor = Annotated[
    str | None,
    Query(
        max_length=256,
        pattern=r"^[A-Za-z0-9_-]+$",
        description="The next_cursor of the previous page.",
    ),
    AfterValidator(_cursor),
]


# A server works in one environment and accepts only its keys; its key API makes, shows
# and changes only those too, so that a test key, even an admin one, never reaches a live
# key in a store both environments share. A key of the other environment is not found.
def own_key(services: Services, key_id: str) -> KeyRecord:
    """The record of ``key_id`` if it is a key of the server's environment; 404 if not."""
    record = services.engine.keys.get(key_id)
    if record.environment != services.engine.environment:
        raise KeyNotFound(f"no key with id {key_id}")
    return record


def other_environment(services: Services, asked: str) -> str:
    """Why a request about keys of environment ``asked`` is refused on this server."""
    own = services.engine.environment
    return f"this server works with {own} keys only; {asked} keys are managed on a {asked} server"
