"""Subscribers: callables that hear of alerts and chosen events once they are written.

``engine.monitor.subscribe(deliver, events=["alert.*", "key.revoked"])`` is all it takes
to pass them on (webhooks, a chat, a pager). Each subscriber is called in the monitor's
writer thread, after the transaction that wrote the notice committed, so it never hears
of something that was not kept; it should be quick (hand the notice to a queue of its
own), and an exception in it is logged and does not reach the writer.
"""

from __future__ import annotations

import fnmatch
import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType

from policyengine.errors import MonitorError

log = logging.getLogger("policyengine.monitor")

#: Every event a notice can be about: alerts, key lifecycle, policy loads, administration.
EVENT_GROUPS = ("alert", "key", "policy", "admin")


@dataclass(frozen=True, slots=True)
class Notice:
    #: What happened: ``alert.raised``, ``alert.resolved``, ``key.revoked``, …
    event: str
    #: Unique to this notice, and the same if it is ever sent again.
    id: str
    at: datetime
    #: The alert or the event as JSON values.
    data: Mapping[str, object] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "data", MappingProxyType(dict(self.data)))

    def as_dict(self) -> dict[str, object]:
        return {
            "event": self.event,
            "id": self.id,
            "at": self.at.isoformat(),
            "data": dict(self.data),
        }


Subscriber = Callable[[Notice], object]


class Subscription:
    """What :meth:`Monitor.subscribe <policyengine.monitor.Monitor.subscribe>` returns:
    ``cancel()`` it to stop hearing."""

    def __init__(self, owner: Subscribers, callback: Subscriber, patterns: tuple[str, ...]):
        self._owner = owner
        self.callback = callback
        self.patterns = patterns

    def wants(self, event: str) -> bool:
        return any(fnmatch.fnmatchcase(event, pattern) for pattern in self.patterns)

    def cancel(self) -> None:
        self._owner.cancel(self)


class Subscribers:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subscriptions: tuple[Subscription, ...] = ()

    def subscribe(self, callback: Subscriber, events: Iterable[str] | None = None) -> Subscription:
        """Call ``callback(notice)`` for every notice whose event matches one of ``events``
        (``alert.raised``, or a pattern such as ``alert.*`` or ``key.*``; all by default)."""
        if not callable(callback):
            raise MonitorError("a subscriber must be callable with one notice")
        patterns = ("*",) if events is None else tuple(events)
        if isinstance(events, str) or not patterns:
            raise MonitorError(
                "events must be a list of event names or patterns, such as ['alert.*']"
            )
        for pattern in patterns:
            group = pattern.partition(".")[0]
            if pattern != "*" and group not in EVENT_GROUPS:
                raise MonitorError(
                    f"unknown event {pattern!r}: events start with one of "
                    f"{', '.join(g + '.' for g in EVENT_GROUPS)}"
                )
        subscription = Subscription(self, callback, patterns)
        with self._lock:
            self._subscriptions = (*self._subscriptions, subscription)
        return subscription

    def cancel(self, subscription: Subscription) -> None:
        with self._lock:
            self._subscriptions = tuple(s for s in self._subscriptions if s is not subscription)

    def publish(self, notices: Iterable[Notice]) -> None:
        subscriptions = self._subscriptions
        if not subscriptions:
            return
        for notice in notices:
            for subscription in subscriptions:
                if not subscription.wants(notice.event):
                    continue
                try:
                    subscription.callback(notice)
                except Exception:
                    log.exception("a monitor subscriber failed on %s %s", notice.event, notice.id)
