"""The typed policy model: what a directory of policy files means, once validated."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from policyengine.errors import Location
from policyengine.policy.alerts import AlertSettings, default_alerts
from policyengine.policy.scopes import Scope
from policyengine.record import Environment, Usage
from policyengine.units import Rate

if TYPE_CHECKING:
    from policyengine.language.ast import Expr

Effect = Literal["allow", "deny"]
OnError = Literal["deny", "allow"]

#: Key fields a key type may require its keys to set.
REQUIRABLE_FIELDS = ("allowed_ips", "expires_at")


@dataclass(frozen=True, slots=True)
class RateLimit:
    """A named limit of a key type; ``on_error`` says what a limiter outage means for it."""

    name: str
    rate: Rate
    on_error: OnError = "deny"


@dataclass(frozen=True, slots=True)
class KeyType:
    name: str
    description: str
    #: The scopes every key of the type has, or ``None`` when each key carries its own.
    scopes: tuple[Scope, ...] | None
    #: With ``scopes: from_key``: the scopes a key's own scopes must lie within.
    allowed_scopes: tuple[Scope, ...] = ()
    rate_limits: tuple[RateLimit, ...] = ()
    usage: Usage | None = None
    #: Longest lifetime a key may be created with, in seconds.
    max_lifetime: float | None = None
    #: Key fields that must be set (``allowed_ips``, ``expires_at``, ``metadata.<name>``).
    requires: tuple[str, ...] = ()
    environments: tuple[Environment, ...] = ("test", "live")
    location: Location = field(default=Location("<memory>", 1, 1), compare=False)

    @property
    def from_key(self) -> bool:
        return self.scopes is None


@dataclass(frozen=True, slots=True)
class Route:
    """``method path`` → ``resource[/instance]:action``; ``instance`` may name a path parameter."""

    method: str
    path: str
    resource: str
    instance: str | None
    action: str
    #: Any valid key may call the route; scopes are not consulted (rules still are).
    any_key: bool = False
    location: Location = field(default=Location("<memory>", 1, 1), compare=False)
    #: Calls to the route use none of the key's rate limits or credits; a key already
    #: over them is still refused.
    metered: bool = True


@dataclass(frozen=True, slots=True)
class Condition:
    """A ``when``/``unless`` expression: its text, its tree, and where it was written."""

    source: str
    tree: Expr
    location: Location
    #: ``(offset, line, column)`` for the start of each line of ``source`` in the file.
    lines: tuple[tuple[int, int, int], ...] = field(default=(), compare=False, repr=False)

    def locate(self, offset: int) -> Location:
        """The place in the policy file of the character at ``offset`` in ``source``."""
        line, column, start = self.location.line, self.location.column, 0
        for line_start, line_at, column_at in self.lines:
            if line_start <= offset:
                line, column, start = line_at, column_at, line_start
        return Location(self.location.file, line, column + offset - start)


@dataclass(frozen=True, slots=True)
class Rule:
    name: str
    effect: Effect
    reason: str
    actions: tuple[str, ...] = ("*",)
    resources: tuple[str, ...] = ("*",)
    key_types: tuple[str, ...] = ()
    when: Condition | None = None
    unless: Condition | None = None
    #: The decision code a matching deny rule gives.
    code: str = "DENIED_BY_POLICY"
    location: Location = field(default=Location("<memory>", 1, 1), compare=False)

    def applies_to(self, key_type: str, resource: str, action: str) -> bool:
        return (
            ("*" in self.resources or resource in self.resources)
            and ("*" in self.actions or action in self.actions)
            and (not self.key_types or key_type in self.key_types)
        )


@dataclass(frozen=True)
class PolicySet:
    key_types: Mapping[str, KeyType]
    routes: tuple[Route, ...] = ()
    rules: tuple[Rule, ...] = ()
    #: Request headers that conditions may read (lower case).
    headers: tuple[str, ...] = ()
    #: Every resource the policies know, with its actions.
    resources: Mapping[str, frozenset[str]] = field(default_factory=dict)
    files: tuple[str, ...] = ()
    #: SHA-256 of the policy files' contents: the policy set's version.
    digest: str = ""
    #: What the monitor watches for, every kind of alert by name.
    alerts: Mapping[str, AlertSettings] = field(default_factory=default_alerts)
    #: What the keys start with (``tdoc`` for ``tdoc_live_…``); ``None`` when no file says.
    key_prefix: str | None = None
