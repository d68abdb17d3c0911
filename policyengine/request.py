"""What the engine is asked about: a credential and an HTTP request, or an explicit
resource and action."""

from __future__ import annotations

import itertools
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from types import MappingProxyType

_NO_HEADERS: Mapping[str, str] = MappingProxyType({})
# Unique across processes without a random draw per request: a random stem per process,
# then a counter.
_STEM = secrets.token_hex(6)
_COUNTER = itertools.count()


def new_request_id() -> str:
    """A fresh request id, such as ``req_3f9a2c1b7d4e000000000000002a``."""
    return f"req_{_STEM}{next(_COUNTER):016x}"


# What a path must not hold, each a way to mean another path to whatever handles the request
# after the check: control characters; '?' and '#', which end a path; a backslash, which
# some servers read as '/'; a percent-encoded sequence left after decoding (the request
# was encoded twice, and a second decoding would make '/', '.' or '?' of it); an empty
# segment, except a single trailing slash; and '.' or '..' segments, with or without
# ';parameters'.
_REFUSED = re.compile(
    r"(?P<char>[\x00-\x1f\x7f-\x9f?#\\])"
    r"|(?P<encoded>%[0-9A-Fa-f]{2})"
    r"|(?P<empty>//)"
    r"|/(?P<dots>\.\.?)(?:;[^/]*)?(?=/|\Z)"
)
_NAMES = {"\\": "a backslash", "?": "a '?'", "#": "a '#'"}


@lru_cache(maxsize=4096)
def path_problem(path: str) -> str | None:
    """Why the engine refuses ``path`` (a decoded path, without its query), or ``None``.
    Clients repeat their paths, so the answers are kept."""
    if not path.startswith("/"):
        return "it does not start with '/'"
    found = _REFUSED.search(path)
    if found is None:
        return None
    if found["char"] is not None:
        char = found["char"]
        return f"it holds {_NAMES.get(char) or f'the control character {char!r}'}"
    if found["encoded"] is not None:
        return f"it holds {found['encoded']!r}, which is still percent-encoded after decoding"
    if found["empty"] is not None:
        return "it has an empty segment ('//')"
    return f"it has a {found['dots']!r} segment"


@dataclass(frozen=True, slots=True)
class Request:
    #: The API key or JWT, as sent (``Authorization: Bearer …`` without the scheme).
    credential: str | None = None
    method: str | None = None
    #: The percent-decoded path, without the query string (an ASGI ``scope["path"]``).
    #: It is checked as it is, never cut or normalised: a path that holds ``?``, ``#``, a
    #: control character, a backslash, a percent-encoded sequence, an empty segment or a
    #: ``.`` or ``..`` segment is refused before any route is matched.
    path: str | None = None
    #: ``events`` or ``events/evt_42``; with ``action``, instead of method and path.
    resource: str | None = None
    action: str | None = None
    #: The peer address; behind trusted proxies, the forwarding headers name the client.
    ip: str | None = None
    headers: Mapping[str, str] = field(default_factory=lambda: _NO_HEADERS)
    #: Decide as at this instant instead of now (policy tests, replays).
    time: datetime | None = None
    #: The id the caller gives the request (an ``X-Request-ID``), kept with its decision
    #: record; when absent the monitor makes one up.
    request_id: str | None = None
