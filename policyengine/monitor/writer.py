"""The writer thread's work: queued items → records → one transaction per batch.

A batch whose write fails is kept and tried again, in order, before anything newer; past
:data:`MAX_PENDING` batches the oldest is given up and counted as lost, so that a store
that stays down costs bounded memory.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable
from datetime import datetime, timedelta

from policyengine.errors import StorageError
from policyengine.monitor.capture import Captured, Recorder
from policyengine.monitor.metrics import Metrics
from policyengine.monitor.store import Batch, MonitorStore
from policyengine.monitor.usage import UsageTally

log = logging.getLogger("policyengine.monitor")

#: Batches kept for another try while the store is failing.
MAX_PENDING = 20
#: How often old records are pruned, and how soon after the monitor opens first.
PRUNE_EVERY_SECONDS = 600.0
FIRST_PRUNE_SECONDS = 60.0


class Writer:
    def __init__(
        self,
        store: MonitorStore,
        recorder: Recorder,
        clock: Callable[[], datetime],
        retention: timedelta,
        metrics: Metrics,
    ) -> None:
        self._store = store
        self._recorder = recorder
        self._metrics = metrics
        self._clock = clock
        self._retention = retention
        self._pending: deque[Batch] = deque()
        self._next_prune = time.monotonic() + FIRST_PRUNE_SECONDS
        #: Decision records written, and lost to a store that kept failing.
        self.written = 0
        self.lost = 0

    def process(self, items: list[object]) -> None:
        batch = Batch()
        record = self._recorder.record
        for item in items:
            if type(item) is tuple:
                captured: Captured = item
                batch.decisions.append(record(captured))
        if batch.decisions:
            self._metrics.count(batch.decisions)
            tally = UsageTally()
            tally.add(batch.decisions)
            batch.usage = tally.buckets
        if batch:
            self._pending.append(batch)
            self._write_pending()

    def tick(self) -> None:
        self._write_pending()
        if time.monotonic() >= self._next_prune and not self._pending:
            self._next_prune = time.monotonic() + PRUNE_EVERY_SECONDS
            self.prune()

    def prune(self) -> int:
        """Forget what is older than the retention period; say how many records went."""
        try:
            return self._store.prune(self._clock() - self._retention)
        except StorageError as error:
            log.warning("could not prune the monitor's old records; will retry: %s", error)
            return 0

    def _write_pending(self) -> None:
        while self._pending:
            batch = self._pending[0]
            try:
                self._store.write(batch)
            except StorageError as error:
                log.warning(
                    "could not write %d monitor records; will retry: %s",
                    len(batch.decisions),
                    error,
                )
                while len(self._pending) > MAX_PENDING:
                    self.lost += len(self._pending.popleft().decisions)
                return
            self._pending.popleft()
            self.written += len(batch.decisions)
