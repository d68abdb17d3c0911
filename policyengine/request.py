"""What the engine is asked about: a credential and an HTTP request, or an explicit
resource and action."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType

_NO_HEADERS: Mapping[str, str] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class Request:
    #: The API key or JWT, as sent (``Authorization: Bearer …`` without the scheme).
    credential: str | None = None
    method: str | None = None
    #: The path without its query string.
    path: str | None = None
    #: ``events`` or ``events/evt_42``; with ``action``, instead of method and path.
    resource: str | None = None
    action: str | None = None
    #: The peer address; behind trusted proxies, the forwarding headers name the client.
    ip: str | None = None
    headers: Mapping[str, str] = field(default_factory=lambda: _NO_HEADERS)
    #: Decide as at this instant instead of now (policy tests, replays).
    time: datetime | None = None
