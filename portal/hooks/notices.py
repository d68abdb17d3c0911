"""What happens in tDoc's API, told to the hooks that want to know.

An event of a kind (``event.created``, ``task.run.succeeded``, ``key.revoked``, …) is
queued for delivery to every hook subscribed to that kind, through monitoring's delivery
queue: signed with the hook's secret (looked up at each attempt, so a deleted hook gets
nothing more), retried, and logged per hook.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Protocol

from policyengine.errors import PolicyEngineError
from portal.store.hooks import HookStore

log = logging.getLogger("portal.hooks")


class Queued(Protocol):
    @property
    def id(self) -> str: ...


class Queue(Protocol):
    def enqueue(self, target: str, url: str, event_type: str, payload: object) -> Queued: ...


class Notices:
    def __init__(self, hooks: HookStore, queue: Queue) -> None:
        self._hooks = hooks
        self._queue = queue

    def publish(self, kind: str, data: Mapping[str, Any]) -> list[str]:
        """Queue ``data`` as a ``kind`` event for every hook that wants it; the ids of
        the deliveries queued. A hook that cannot be queued for is logged and skipped."""
        queued = []
        for subscriber in self._hooks.subscribers(kind):
            hook = subscriber.hook
            try:
                delivery = self._queue.enqueue(hook.id, hook.url, kind, dict(data))
            except PolicyEngineError as error:
                log.warning("cannot queue %s for hook %s: %s", kind, hook.id, error)
                continue
            queued.append(delivery.id)
        return queued
