"""Everything the routes and workers share, made once per application."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from policyengine.db import Database
from policyengine.engine import Engine
from policyengine.monitor.delivery import DeliveryQueue
from policyengine.monitor.delivery_settings import DeliverySettings
from portal.hooks.notices import Notices
from portal.store.database import Clock, Opened, open_database
from portal.store.events import EventStore
from portal.store.hooks import HookStore
from portal.store.runs import RunStore
from portal.store.tasks import TaskStore


@dataclass
class Services:
    engine: Engine
    clock: Clock
    events: EventStore
    tasks: TaskStore
    runs: RunStore
    hooks: HookStore
    #: Tells the hooks what happened (``event.created``, ``task.run.succeeded``, …).
    notices: Notices
    opened: Opened
    #: Lets an idle worker know a run was queued; set once the workers run.
    wake_workers: Callable[[], None] = lambda: None

    @classmethod
    def open(
        cls, engine: Engine, store: str, clock: Clock, delivery: DeliverySettings | None
    ) -> Services:
        """The services over tDoc's database at ``store``; the delivery queue is made, not
        started (the application starts its workers)."""
        opened = open_database(store)
        database = opened.database
        hooks = HookStore(database, clock, shared=opened.shared)
        try:
            deliveries = DeliveryQueue.open(store, hooks.secret, delivery, start=False)
        except BaseException:
            opened.close()
            raise
        return cls(
            engine=engine,
            clock=clock,
            events=EventStore(database, clock),
            tasks=TaskStore(database, clock),
            runs=RunStore(database, clock, shared=opened.shared),
            hooks=hooks,
            notices=Notices(hooks, deliveries),
            opened=opened,
        )

    @property
    def database(self) -> Database:
        return self.opened.database

    def close(self) -> None:
        self.notices.queue.close()
        self.opened.close()

    def tell(self, kind: str, data: Mapping[str, Any]) -> None:
        """Tell the hooks that want ``kind`` what happened."""
        self.notices.tell(kind, data)
