"""Counters for Prometheus, kept by the writer and exposed by ``prometheus-client``.

Decisions are counted by code, key type and environment, never by key id or anything
else that grows with the number of keys or could identify one; check latency goes into a
histogram; the stream's queue depth, drops and writes are read when scraped. The
counting needs nothing installed; the exposition needs ``policyengine[metrics]``.
"""

from __future__ import annotations

import bisect
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from policyengine.errors import ConfigError
from policyengine.monitor.rows import CODE, KEY_ENVIRONMENT, KEY_TYPE, LATENCY, DecisionRow

#: Histogram bucket bounds, in seconds: a check takes microseconds, unless a store is slow.
LATENCY_BUCKETS = (
    0.000005, 0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005,
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
)  # fmt: skip
NONE = "none"


@dataclass(frozen=True, slots=True)
class MonitorStats:
    """The stream's counters since the monitor opened."""

    #: Items waiting for the writer.
    queued: int
    #: Decision records dropped because the queue was full.
    dropped: int
    #: Decision records written.
    written: int
    #: Decision records given up after the store kept failing.
    lost: int


class Metrics:
    """The counts so far; :meth:`count` runs in the writer thread, :meth:`collect` in
    whichever thread scrapes."""

    def __init__(self, gauges: Callable[[], MonitorStats]) -> None:
        self._gauges = gauges
        self._lock = threading.Lock()
        self._decisions: dict[tuple[str, str, str], int] = {}
        self._buckets = [0] * (len(LATENCY_BUCKETS) + 1)
        self._latency_sum = 0.0
        self._alerts: dict[tuple[str, str], int] = {}

    def count(self, rows: Iterable[DecisionRow]) -> None:
        decisions: dict[tuple[str, str, str], int] = {}
        buckets = [0] * len(self._buckets)
        total = 0.0
        for row in rows:
            labels = (row[CODE], row[KEY_TYPE] or NONE, row[KEY_ENVIRONMENT] or NONE)
            decisions[labels] = decisions.get(labels, 0) + 1
            latency = row[LATENCY]
            buckets[bisect.bisect_left(LATENCY_BUCKETS, latency)] += 1
            total += latency
        with self._lock:
            for labels, count in decisions.items():
                self._decisions[labels] = self._decisions.get(labels, 0) + count
            for index, count in enumerate(buckets):
                self._buckets[index] += count
            self._latency_sum += total

    def count_alert(self, kind: str, severity: str) -> None:
        with self._lock:
            self._alerts[(kind, severity)] = self._alerts.get((kind, severity), 0) + 1

    def decisions(self) -> dict[tuple[str, str, str], int]:
        """Decisions counted so far by ``(code, key type, environment)``."""
        with self._lock:
            return dict(self._decisions)

    def collect(self) -> Iterator[Any]:
        """Metric families for ``prometheus_client``; a registry calls this when scraped."""
        core = _prometheus().core
        with self._lock:
            decisions = dict(self._decisions)
            buckets = list(self._buckets)
            latency_sum = self._latency_sum
            alerts = dict(self._alerts)
        family = core.CounterMetricFamily(
            "policyengine_decisions",
            "Decisions by code, key type and environment",
            labels=["code", "key_type", "environment"],
        )
        for labels, count in sorted(decisions.items()):
            family.add_metric(list(labels), count)
        yield family
        cumulative, running = [], 0
        for bound, count in zip([*map(str, LATENCY_BUCKETS), "+Inf"], buckets, strict=True):
            running += count
            cumulative.append((bound, running))
        yield core.HistogramMetricFamily(
            "policyengine_check_duration_seconds",
            "How long checks took",
            buckets=cumulative,
            sum_value=latency_sum,
        )
        raised = core.CounterMetricFamily(
            "policyengine_alerts", "Alerts raised by kind and severity", labels=["kind", "severity"]
        )
        for kind, count in sorted(alerts.items()):
            raised.add_metric(list(kind), count)
        yield raised
        gauges = self._gauges()
        yield core.GaugeMetricFamily(
            "policyengine_monitor_queue_depth", "Items waiting for the monitor's writer",
            value=gauges.queued,
        )  # fmt: skip
        for name, help_text, value in (
            ("dropped", "Decision records dropped because the queue was full", gauges.dropped),
            ("written", "Decision records written", gauges.written),
            ("lost", "Decision records given up after the store kept failing", gauges.lost),
        ):
            yield core.CounterMetricFamily(f"policyengine_monitor_{name}", help_text, value=value)

    def exposition(self) -> bytes:
        """The metrics in Prometheus's text format, as a ``/metrics`` route answers."""
        client = _prometheus()
        registry = client.CollectorRegistry(auto_describe=False)
        registry.register(self)
        return bytes(client.generate_latest(registry))


def _prometheus() -> Any:
    try:
        import prometheus_client
        import prometheus_client.core
    except ImportError:
        raise ConfigError(
            "the Prometheus exposition needs prometheus-client: pip install 'policyengine[metrics]'"
        ) from None
    return prometheus_client
