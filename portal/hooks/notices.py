"""What happens in tDoc's API, told to the hooks that want to know.

An event of a kind (``event.created``, ``task.run.succeeded``, ``key.revoked``, …) is
queued for every hook subscribed to that kind, through monitoring's delivery queue: signed
with the hook's secret (looked up at each attempt, so a deleted hook gets nothing more),
retried, and logged per hook. Key lifecycle events and alerts come from the monitor, once
it has written them.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from policyengine.errors import PolicyEngineError
from policyengine.monitor import Notice
from policyengine.monitor.delivery import DeliveryQueue
from portal.store.hooks import HookStore

log = logging.getLogger("portal.hooks")

#: What the monitor tells the hooks: key lifecycle events and alerts.
MONITOR_EVENTS = ("key.*", "alert.*")


class Notices:
    def __init__(self, hooks: HookStore, queue: DeliveryQueue) -> None:
        self._hooks = hooks
        self.queue = queue

    def publish(self, kind: str, data: Mapping[str, Any]) -> list[str]:
        """Queue ``data`` as a ``kind`` event for every hook that wants it; the ids of
        the deliveries queued. A hook that cannot be queued for is logged and skipped."""
        queued = []
        for subscriber in self._hooks.subscribers(kind):
            hook = subscriber.hook
            try:
                delivery = self.queue.enqueue(hook.id, hook.url, kind, dict(data))
            except PolicyEngineError as error:
                log.warning("cannot queue %s for hook %s: %s", kind, hook.id, error)
                continue
            queued.append(delivery.id)
        return queued

    def tell(self, kind: str, data: Mapping[str, Any]) -> None:
        """:meth:`publish`, for what has happened already: a failure to queue is logged,
        not raised, whether or not the hooks hear of it."""
        try:
            self.publish(kind, data)
        except PolicyEngineError as error:
            log.warning("could not tell the hooks of %s: %s", kind, error)

    def hear(self, notice: Notice) -> None:
        """The monitor's subscriber: a key's lifecycle event or an alert, passed on."""
        self.tell(notice.event, notice.data)
