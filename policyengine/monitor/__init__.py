"""Monitoring: every decision recorded and explainable later.

``engine.monitor`` is a :class:`Monitor`: the queries that the command line, the HTTP API
and the portal ask (activity per key and per client address), over a store chosen by URL
like the key store's. Checks reach it through one bounded queue drained by a writer
thread, so that recording a decision costs a check one append.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

from policyengine.errors import ConfigError, MonitorError
from policyengine.keys.events import KeyEvent
from policyengine.monitor import capture
from policyengine.monitor.alerts import Alert
from policyengine.monitor.audit import AuditDraft, AuditEntry, AuditHead, Chain
from policyengine.monitor.audit_log import AuditLog
from policyengine.monitor.capture import RecordDecision, Recorder
from policyengine.monitor.metrics import Metrics, MonitorStats
from policyengine.monitor.notices import Notice, Subscriber, Subscribers, Subscription
from policyengine.monitor.pages import Page
from policyengine.monitor.queries import Activity, MonitorQueries
from policyengine.monitor.records import DecisionRecord, Headroom
from policyengine.monitor.settings import (
    DEFAULT_RETENTION,
    OFF,
    default_monitor_url,
    no_policies,
    parse_retention,
)
from policyengine.monitor.store import MonitorStore, open_store
from policyengine.monitor.stream import Stream
from policyengine.monitor.usage import UsagePoint
from policyengine.monitor.verify import AuditProblem, Verification
from policyengine.monitor.writer import Writer
from policyengine.net import NO_PROXIES, Proxies
from policyengine.policy.model import PolicySet

__all__ = [
    "DEFAULT_RETENTION",
    "Activity",
    "Alert",
    "AuditEntry",
    "AuditHead",
    "AuditLog",
    "AuditProblem",
    "DecisionRecord",
    "Headroom",
    "Monitor",
    "MonitorStats",
    "Notice",
    "Page",
    "Subscription",
    "UsagePoint",
    "Verification",
    "default_monitor_url",
]

Clock = Callable[[], datetime]


class Monitor(MonitorQueries):
    """The face of monitoring: its queries, its audit log, its subscribers and metrics.

    ``audit_key`` seals the audit log (the engine derives it from the server's secret);
    a monitor opened without one reads decisions, usage and alerts, but has no audit log.
    """

    def __init__(
        self,
        store: MonitorStore | None,
        *,
        clock: Clock,
        environment: str = "live",
        proxies: Proxies = NO_PROXIES,
        key_prefix: str = "tdoc",
        retention: str | timedelta = DEFAULT_RETENTION,
        capacity: int | None = None,
        policies: Callable[[], PolicySet] | None = None,
        audit_key: bytes | None = None,
    ) -> None:
        self._store = store
        self._clock = clock
        self.retention = parse_retention(retention)
        self._stream: Stream | None = None
        self._writer: Writer | None = None
        self._record: RecordDecision | None = None
        self._closed = False
        self._metrics = Metrics(self.stats)
        self._subscribers = Subscribers()
        self._chain = Chain(audit_key) if audit_key is not None else None
        self._audit: AuditLog | None = None
        if store is not None:
            recorder = Recorder(environment, proxies, key_prefix)
            self._writer = Writer(
                store,
                recorder,
                clock,
                self.retention,
                self._metrics,
                policies or no_policies,
                self._subscribers,
                self._chain,
            )
            if capacity is not None and (isinstance(capacity, bool) or capacity < 1):
                raise ConfigError("the monitor's queue must hold at least one decision")
            self._stream = Stream(self._writer.process, self._writer.tick, capacity=capacity)
            self._record = capture.recorder(self._stream, bool(proxies))
            if self._chain is not None:
                self._audit = AuditLog(store, self._chain, clock, self._stream.put)

    @classmethod
    def open(cls, url: str, **options: object) -> Monitor:
        """A monitor over the store at ``url`` (``sqlite:///…``, ``postgresql://…``,
        ``memory://``), or one that is off (``off``)."""
        if url == OFF:
            return cls(None, **options)  # type: ignore[arg-type]
        store = open_store(url)
        try:
            return cls(store, **options)  # type: ignore[arg-type]
        except BaseException:
            store.close()
            raise

    @property
    def enabled(self) -> bool:
        return self._store is not None

    @property
    def persistent(self) -> bool:
        return self._store is not None and self._store.persistent

    @property
    def audit(self) -> AuditLog:
        """The audit log: ``verify()``, ``export()``, ``head()``, ``record()``."""
        if self._audit is None:
            raise MonitorError(
                "this monitor has no audit log: monitoring is off, or it was opened without "
                "the server's secret"
            )
        return self._audit

    def key_event(self, event: KeyEvent) -> None:
        """Write a key lifecycle event to the audit log: the key manager's event sink."""
        if self._stream is not None and self._chain is not None:
            details = dict(event.details)
            draft = AuditDraft(f"key.{event.kind}", event.actor, event.key_id, event.at, details)
            self._stream.put(draft)

    def policy_loaded(
        self, policy: PolicySet, actor: str, source: str | None, previous: str | None = None
    ) -> None:
        """Write a policy load (or, with the ``previous`` digest, a reload) to the audit log."""
        if self._stream is None or self._chain is None or not policy.digest:
            return
        details: dict[str, object] = {"files": list(policy.files), "source": source}
        event = "policy.loaded"
        if previous is not None:
            event, details["previous"] = "policy.reloaded", previous
        self._stream.put(AuditDraft(event, actor, policy.digest, self._clock(), details))

    @property
    def record(self) -> RecordDecision | None:
        """What a check calls to hand over its decision; ``None`` when monitoring is off."""
        return self._record

    def subscribe(self, callback: Subscriber, events: Iterable[str] | None = None) -> Subscription:
        """Call ``callback(notice)`` for each :class:`~policyengine.monitor.notices.Notice`
        of the given ``events``
        (``alert.raised``, ``alert.resolved``, ``key.revoked``…, or patterns such as
        ``alert.*``; every event by default), in the writer thread, once it is written.
        ``subscription.cancel()`` stops it."""
        return self._subscribers.subscribe(callback, events)

    def metrics(self) -> bytes:
        """Prometheus's text exposition of decisions by code, key type and environment,
        check latency, alerts, and the stream's queue depth, drops and writes (needs
        ``policyengine[metrics]``). Serve it at ``/metrics``, or register
        :attr:`collector` with a registry of your own."""
        return self._metrics.exposition()

    @property
    def collector(self) -> Metrics:
        """A ``prometheus_client`` collector: ``REGISTRY.register(engine.monitor.collector)``."""
        return self._metrics

    def flush(self, timeout: float | None = 30.0) -> bool:
        """Write everything handed to the monitor so far; ``False`` if that did not finish
        within ``timeout`` seconds."""
        return self._stream.flush(timeout) if self._stream is not None else True

    def prune(self) -> int:
        """Forget what is older than the retention period now, rather than at the writer's
        next turn; say how many decision records went."""
        self.flush()
        return self._writer.prune() if self._writer is not None else 0

    def stats(self) -> MonitorStats:
        stream, writer = self._stream, self._writer
        if stream is None or writer is None:
            return MonitorStats(0, 0, 0, 0)
        return MonitorStats(stream.depth, stream.dropped, writer.written, writer.lost)

    def close(self) -> None:
        """Write what is queued, stop the writer and close the store."""
        if self._closed:
            return
        self._closed = True
        if self._stream is not None:
            self._stream.close()
        if self._store is not None:
            self._store.close()

    # Internals.

    def close_quiet_alerts(self) -> None:
        """Close the alerts that have had no new sign for their quiet period now, rather
        than at the writer's next turn."""
        self.flush()
        if self._writer is not None:
            self._writer.close_quiet_alerts()
