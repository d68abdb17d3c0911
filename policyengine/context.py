"""What a compiled condition reads about a request: resolved once, before any rule runs."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(slots=True)
class Context:
    #: Client address in the mapped integer space of :mod:`policyengine.net`.
    ip: int
    time: float
    resource: str
    action: str
    resource_id: str = ""
    method: str = ""
    path: str = ""
    credential_type: str = "key"
    #: Declared request headers only, names in lower case.
    headers: Mapping[str, str] = field(default_factory=dict)
