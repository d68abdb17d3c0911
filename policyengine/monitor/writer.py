"""The writer thread's work: queued items → decision rows, usage, metrics and alerts → one
transaction per batch → notices to subscribers.

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
from policyengine.monitor.alerts import Alert, AlertBook
from policyengine.monitor.audit import AuditDraft, AuditEntry, Chain
from policyengine.monitor.capture import Captured, Recorder
from policyengine.monitor.detectors import Detectors
from policyengine.monitor.history import KeyHistory
from policyengine.monitor.metrics import Metrics
from policyengine.monitor.notices import Notice, Subscribers
from policyengine.monitor.store import Batch, MonitorStore
from policyengine.monitor.usage import UsageTally
from policyengine.policy.model import PolicySet

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
        policies: Callable[[], PolicySet],
        subscribers: Subscribers,
        chain: Chain | None,
    ) -> None:
        self._store = store
        self._recorder = recorder
        self._clock = clock
        self._retention = retention
        self._metrics = metrics
        self._policies = policies
        self._subscribers = subscribers
        self._chain = chain
        self._detectors = Detectors(self._history)
        self._book = AlertBook()
        self._pending: deque[Batch] = deque()
        self._next_prune = time.monotonic() + FIRST_PRUNE_SECONDS
        #: Decision records written, and lost to a store that kept failing.
        self.written = 0
        self.lost = 0

    def process(self, items: list[object]) -> None:
        batch = Batch(chain=self._chain)
        row = self._recorder.row
        for item in items:
            if type(item) is tuple:
                captured: Captured = item
                batch.decisions.append(row(captured))
            elif isinstance(item, AuditDraft):
                batch.audit.append(item)
        if batch.decisions:
            self._metrics.count(batch.decisions)
            tally = UsageTally()
            tally.add(batch.decisions)
            batch.usage = tally.buckets
            settings = self._policies().alerts
            signs = self._detectors.observe(batch.decisions, settings)
            batch.alerts = self._book.add(signs, settings)
            batch.networks = self._detectors.take_networks()
        if batch:
            self._pending.append(batch)
            self._write_pending()

    def tick(self) -> None:
        self._write_pending()
        self.close_quiet_alerts()
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

    def close_quiet_alerts(self) -> None:
        """Close the alerts that have had no new sign for their kind's quiet period."""
        now = self._clock()
        closed: list[Alert] = []
        try:
            for kind, settings in self._policies().alerts.items():
                before = now - timedelta(seconds=settings.quiet)
                closed += self._store.close_alerts(kind, before, now)
                self._book.forget(kind, before)
        except StorageError as error:
            log.warning("could not close the monitor's quiet alerts; will retry: %s", error)
        self._subscribers.publish(notice("alert.resolved", a) for a in closed)

    def _history(self, key_id: str, since: datetime) -> KeyHistory:
        try:
            return self._store.key_history(key_id, since)
        except StorageError as error:
            log.warning("could not read the history of %s; judging it as new: %s", key_id, error)
            return KeyHistory()

    def _write_pending(self) -> None:
        while self._pending:
            batch = self._pending[0]
            try:
                written = self._store.write(batch)
            except StorageError as error:
                log.warning("could not write the monitor's records; will retry: %s", error)
                while len(self._pending) > MAX_PENDING:
                    self.lost += len(self._pending.popleft().decisions)
                return
            except Exception:
                # Not an outage but a batch the store can never take: tried again, it
                # would hold back every record after it.
                self._pending.popleft()
                self.lost += len(batch.decisions)
                log.exception(
                    "the monitor's store refused a batch; %d decision records and %d audit "
                    "entries in it are lost",
                    len(batch.decisions),
                    len(batch.audit),
                )
                continue
            self._pending.popleft()
            self.written += len(batch.decisions)
            for alert in written.adopted:
                self._book.adopt(alert)
            for alert in written.raised:
                self._metrics.count_alert(alert.kind, alert.severity)
            self._subscribers.publish(notices(written.audit, written.raised))


def notices(entries: list[AuditEntry], raised: list[Alert]) -> list[Notice]:
    """Notices of what a batch wrote, in the audit log's order: a raised alert's notice
    holds the alert itself."""
    alerts = {alert.id: alert for alert in raised}
    found = []
    for entry in entries:
        alert = alerts.pop(str(entry.details.get("alert_id")), None)
        if alert is not None:
            found.append(notice("alert.raised", alert))
        else:
            found.append(Notice(entry.event, entry.id, entry.at, entry.as_dict()))
    # Without an audit log, raised alerts are heard all the same.
    return found + [notice("alert.raised", alert) for alert in alerts.values()]


def notice(event: str, alert: Alert) -> Notice:
    at = alert.closed_at if event == "alert.resolved" and alert.closed_at else alert.first_seen
    return Notice(event, f"{alert.id}.{event.partition('.')[2]}", at, alert.as_dict())
