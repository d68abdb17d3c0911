"""Decisions: the code that says what happened, the HTTP status it maps to, and why."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from types import MappingProxyType

from policyengine.errors import Location


class Code(StrEnum):
    OK = "OK"
    MISSING_CREDENTIAL = "MISSING_CREDENTIAL"
    MALFORMED_CREDENTIAL = "MALFORMED_CREDENTIAL"
    NOT_FOUND = "NOT_FOUND"
    REVOKED = "REVOKED"
    DISABLED = "DISABLED"
    EXPIRED = "EXPIRED"
    TOKEN_INVALID = "TOKEN_INVALID"  # noqa: S105 - a code, not a secret
    TOKEN_EXPIRED = "TOKEN_EXPIRED"  # noqa: S105
    WRONG_ENVIRONMENT = "WRONG_ENVIRONMENT"
    IP_NOT_ALLOWED = "IP_NOT_ALLOWED"
    INSUFFICIENT_SCOPE = "INSUFFICIENT_SCOPE"
    DENIED_BY_POLICY = "DENIED_BY_POLICY"
    USAGE_EXCEEDED = "USAGE_EXCEEDED"
    RATE_LIMITED = "RATE_LIMITED"
    UNAVAILABLE = "UNAVAILABLE"

    @property
    def status(self) -> int:
        return STATUS[self]


STATUS: dict[Code, int] = {
    Code.OK: 200,
    Code.MISSING_CREDENTIAL: 401,
    Code.MALFORMED_CREDENTIAL: 401,
    Code.NOT_FOUND: 401,
    Code.REVOKED: 401,
    Code.DISABLED: 401,
    Code.EXPIRED: 401,
    Code.TOKEN_INVALID: 401,
    Code.TOKEN_EXPIRED: 401,
    Code.WRONG_ENVIRONMENT: 403,
    Code.IP_NOT_ALLOWED: 403,
    Code.INSUFFICIENT_SCOPE: 403,
    Code.DENIED_BY_POLICY: 403,
    Code.USAGE_EXCEEDED: 429,
    Code.RATE_LIMITED: 429,
    Code.UNAVAILABLE: 503,
}

#: The pipeline's steps, in the order they run; the first that fails decides.
STEPS = (
    "credential",
    "key",
    "state",
    "environment",
    "ip",
    "scope",
    "rules",
    "usage",
    "rate",
)

NO_HEADERS: Mapping[str, str] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class RuleRef:
    """What decided: a rule of a policy file, or a step of the pipeline (no location)."""

    name: str
    location: Location | None = None

    def __str__(self) -> str:
        if self.location is None:
            return self.name
        return f"{self.name} ({self.location.file}:{self.location.line})"


@dataclass(frozen=True, slots=True)
class KeyRef:
    """The key a decision was about: safe to log, never the secret."""

    id: str
    type: str
    environment: str
    #: When the key expires (``None``: never), as the check found it.
    expires_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Step:
    """One line of an explained decision."""

    step: str
    passed: bool
    detail: str


@dataclass(slots=True)
class Decision:
    """What the engine decided. Each check returns a new one, owned by its caller."""

    allowed: bool
    code: Code
    reason: str
    #: The step of the pipeline that decided (one of :data:`STEPS`), or ``"done"``.
    step: str
    rule: RuleRef | None = None
    key: KeyRef | None = None
    headers: Mapping[str, str] = field(default_factory=lambda: NO_HEADERS)
    trace: tuple[Step, ...] | None = None
    #: For ``UNAVAILABLE``: what failed.
    error: str | None = None

    @property
    def status(self) -> int:
        return STATUS[self.code]
