"""Everything the routes and workers share, made once per application."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from policyengine.db import Database
from policyengine.engine import Engine
from policyengine.errors import PolicyEngineError
from portal.hooks.notices import Notices, Queue
from portal.store.database import Clock, Opened
from portal.store.events import EventStore
from portal.store.hooks import HookStore
from portal.store.runs import RunStore
from portal.store.tasks import TaskStore

log = logging.getLogger("portal")


@dataclass
class Services:
    engine: Engine
    database: Database
    clock: Clock
    events: EventStore
    tasks: TaskStore
    runs: RunStore
    hooks: HookStore
    #: Tells the hooks what happened (``event.created``, ``task.run.succeeded``, …).
    notices: Notices
    #: Lets an idle worker know a run was queued; set once the workers run.
    wake_workers: Callable[[], None] = lambda: None

    @classmethod
    def open(cls, engine: Engine, opened: Opened, clock: Clock, deliveries: Queue) -> Services:
        database = opened.database
        hooks = HookStore(database, clock)
        return cls(
            engine=engine,
            database=database,
            clock=clock,
            events=EventStore(database, clock),
            tasks=TaskStore(database, clock),
            runs=RunStore(database, clock, shared=opened.shared),
            hooks=hooks,
            notices=Notices(hooks, deliveries),
        )

    def tell(self, kind: str, data: Mapping[str, Any]) -> None:
        """Tell the hooks that want ``kind``; a failure to queue is logged, not raised:
        what happened has happened, whether or not the hooks hear of it."""
        try:
            self.notices.publish(kind, data)
        except PolicyEngineError as error:
            log.warning("could not tell the hooks of %s: %s", kind, error)
