"""Scopes: ``resource:action``, ``*`` for any part, and an optional ``/instance``."""

from __future__ import annotations

import re
from dataclasses import dataclass

from policyengine.errors import InvalidValue

_NAME = r"[A-Za-z0-9_.-]+"
_SCOPE = re.compile(rf"(\*|{_NAME})(?:/(\*|{_NAME}))?:(\*|{_NAME})")


@dataclass(frozen=True, slots=True)
class Scope:
    resource: str
    instance: str | None
    action: str

    def grants(self, resource: str, instance: str, action: str) -> bool:
        """Whether this scope allows ``action`` on ``resource`` (``instance`` may be ``""``)."""
        return (
            (self.resource == "*" or self.resource == resource)
            and (self.action == "*" or self.action == action)
            and (self.instance is None or self.instance == instance)
        )

    def covers(self, other: Scope) -> bool:
        """Whether everything ``other`` grants, this scope grants too."""
        return (
            (self.resource == "*" or self.resource == other.resource)
            and (self.action == "*" or self.action == other.action)
            and (self.instance is None or self.instance == other.instance)
        )

    def __str__(self) -> str:
        if self.resource == "*" and self.action == "*" and self.instance is None:
            return "*"
        resource = self.resource if self.instance is None else f"{self.resource}/{self.instance}"
        return f"{resource}:{self.action}"


ANY = Scope("*", None, "*")


def parse_scope(text: str) -> Scope:
    if text == "*":
        return ANY
    match = _SCOPE.fullmatch(text) if isinstance(text, str) else None
    if match is None:
        raise InvalidValue(
            f"invalid scope {text!r}: write resource:action, such as events:read, tasks:* "
            "or events/evt_42:read, or * for everything"
        )
    resource, instance, action = match.groups()
    if resource == "*" and instance is not None:
        raise InvalidValue(f"invalid scope {text!r}: an instance needs a named resource")
    return Scope(resource, None if instance in (None, "*") else instance, action)


def covered(scope: Scope, allowed: tuple[Scope, ...]) -> bool:
    return any(a.covers(scope) for a in allowed)
