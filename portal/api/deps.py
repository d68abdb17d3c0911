"""What the routes are handed: the services, the caller the engine let in, list paging."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Query, Request
from pydantic import AfterValidator

from policyengine.decision import Decision
from policyengine.integrations.asgi import STATE_KEY
from policyengine.integrations.http import bearer
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
    return Caller(
        decision.key.id, credential, request.client.host if request.client else None, decision
    )


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
