"""Lifecycle events: what happened to a key, for monitoring to persist and alert on.

An event names a key by its public id and describes the change in plain strings; it
never carries a secret or a hash of one, so a sink may log it, ship it or show it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Literal

from policyengine.record import KeyRecord

EventKind = Literal["created", "updated", "rotated", "disabled", "enabled", "revoked", "expired"]
EVENT_KINDS: tuple[EventKind, ...] = (
    "created",
    "updated",
    "rotated",
    "disabled",
    "enabled",
    "revoked",
    "expired",
)

log = logging.getLogger("policyengine.keys")


#: Who changes a key when nobody says: the embedding application.
APP = "app"
#: Who ends a key that expires, or whose rotation grace period ends: the engine itself.
SYSTEM = "system"


@dataclass(frozen=True, slots=True)
class KeyEvent:
    kind: EventKind
    key_id: str
    at: datetime
    details: Mapping[str, str] = field(default_factory=dict)
    #: Who did it: the embedding code's name (``app`` unless it gives one), ``cli:<os
    #: user>`` from the command line, ``key:<id>`` through the HTTP API, or ``system``.
    actor: str = APP

    def __post_init__(self) -> None:
        # Read-only, so that one sink cannot change what the next one sees.
        object.__setattr__(self, "details", MappingProxyType(dict(self.details)))

    def as_dict(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "key_id": self.key_id,
            "at": self.at.isoformat(),
            "details": dict(self.details),
            "actor": self.actor,
        }


#: Anything that takes an event: a list's ``append``, the audit writer, a queue's ``put``.
EventSink = Callable[[KeyEvent], None]


def discard(event: KeyEvent) -> None:
    """The sink of a manager nobody listens to."""


class EventEmitter:
    """Hands each event to every sink. A failing sink is logged, not raised: the change it
    reports has already been made, and the caller must not be told otherwise."""

    __slots__ = ("_sinks",)

    def __init__(self, sink: EventSink | None) -> None:
        self._sinks: tuple[EventSink, ...] = (sink,) if sink is not None else ()

    def add(self, sink: EventSink) -> None:
        self._sinks = (*self._sinks, sink)

    def __call__(self, event: KeyEvent) -> None:
        for sink in self._sinks:
            try:
                sink(event)
            except Exception:
                log.exception(
                    "the key event sink failed on a %s event for %s", event.kind, event.key_id
                )


def created_event(record: KeyRecord, now: datetime, actor: str) -> KeyEvent:
    details = {
        "type": record.type,
        "environment": record.environment,
        "label": record.label,
        "display": record.display,
        "expires_at": record.expires_at.isoformat() if record.expires_at else "never",
        "scopes": " ".join(record.scopes),
        "allowed_ips": " ".join(record.allowed_ips),
    }
    if record.rotated_from:
        details["rotated_from"] = record.rotated_from
    return KeyEvent("created", record.id, now, details, actor)


def ended_event(kind: EventKind, record: KeyRecord, now: datetime) -> KeyEvent:
    """A key's passive end, noticed by the sweep: its expiry, or its rotation grace ending."""
    if kind == "expired":
        expired = record.expires_at.isoformat() if record.expires_at else ""
        return KeyEvent(kind, record.id, now, {"expires_at": expired}, SYSTEM)
    details = {"reason": "rotation grace period ended", "rotated_to": record.rotated_to or ""}
    return KeyEvent(kind, record.id, now, details, SYSTEM)
