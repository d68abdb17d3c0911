"""``memory://``: the monitor's records in this process's memory, gone when it exits.

For tests, demos, and metrics without storage: it keeps at most :data:`MAX_DECISIONS`
decision records, the oldest going first, besides the retention period.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from policyengine.keys.codec import to_micros
from policyengine.monitor.alerts import Alert, added_to, raised_entry
from policyengine.monitor.audit import AuditEntry, AuditHead
from policyengine.monitor.history import KeyHistory
from policyengine.monitor.records import DecisionRecord
from policyengine.monitor.rows import record_of
from policyengine.monitor.store import (
    NETWORK_MEMORY,
    AlertQuery,
    AuditQuery,
    Batch,
    DecisionQuery,
    UsageQuery,
    Written,
    register_scheme,
)
from policyengine.monitor.usage import Bucket, BucketKey, UsagePoint, merge, point

MAX_DECISIONS = 100_000


class MemoryStore:
    persistent = False

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._decisions: list[DecisionRecord] = []
        self._usage: dict[BucketKey, Bucket] = {}
        self._networks: dict[tuple[str, str], tuple[datetime, datetime]] = {}
        self._alerts: dict[str, Alert] = {}
        self._audit: list[AuditEntry] = []

    def write(self, batch: Batch) -> Written:
        written = Written()
        with self._lock:
            self._decisions.extend(map(record_of, batch.decisions))
            if len(self._decisions) > MAX_DECISIONS:
                del self._decisions[: len(self._decisions) - MAX_DECISIONS]
            for key, bucket in batch.usage.items():
                merge(self._usage.setdefault(key, Bucket()), bucket)
            for used, (first, last) in batch.networks.items():
                known = self._networks.get(used, (first, last))
                self._networks[used] = (min(known[0], first), max(known[1], last))
            for change in batch.alerts:
                alert = change.alert
                stored = self._alerts.get(alert.id)
                if stored is None or stored.state != "open":
                    stored = self._open(alert.kind, alert.subject)
                if stored is None:
                    self._alerts[alert.id] = replace(alert, count=change.added)
                    written.raised.append(self._alerts[alert.id])
                    continue
                merged = added_to(stored, alert, change.added)
                self._alerts[stored.id] = merged
                if stored.id != alert.id:
                    written.adopted.append(merged)
            drafts = [*batch.audit, *map(raised_entry, written.raised)]
            if drafts and batch.chain is not None:
                written.audit = batch.chain.seal(drafts, self._head())
                self._audit.extend(written.audit)
        return written

    def _head(self) -> AuditHead | None:
        return AuditHead(self._audit[-1].seq, self._audit[-1].mac) if self._audit else None

    def audit_entries(self, query: AuditQuery) -> Sequence[AuditEntry]:
        with self._lock:
            found = [entry for entry in self._audit if query.matches(entry)]
        if query.newest_first:
            found.sort(key=lambda entry: (entry.at, entry.id), reverse=True)
        return found[: query.limit]

    def audit_head(self) -> AuditHead | None:
        with self._lock:
            return self._head()

    def audit_seq_of(self, mac: str) -> int | None:
        with self._lock:
            return next((entry.seq for entry in self._audit if entry.mac == mac), None)

    def _open(self, kind: str, subject: str) -> Alert | None:
        return next(
            (
                a
                for a in self._alerts.values()
                if a.kind == kind and a.subject == subject and a.state == "open"
            ),
            None,
        )

    def decisions(self, query: DecisionQuery) -> Sequence[DecisionRecord]:
        with self._lock:
            found = [record for record in self._decisions if _matches(query, record)]
        found.sort(key=lambda record: (record.at, record.id), reverse=True)
        return found[: query.limit]

    def usage(self, query: UsageQuery) -> Sequence[UsagePoint]:
        since, until = to_micros(query.since), to_micros(query.until)
        with self._lock:
            found = [
                point(step, start, bucket)
                for (key_id, step, start), bucket in self._usage.items()
                if key_id == query.key_id and step == query.step and since <= start < until
            ]
        return sorted(found, key=lambda p: p.start)

    def key_history(self, key_id: str, since: datetime) -> KeyHistory:
        start = to_micros(since)
        with self._lock:
            networks = {net: seen for (kid, net), seen in self._networks.items() if kid == key_id}
            minutes = {
                begin: bucket.requests
                for (kid, step, begin), bucket in self._usage.items()
                if kid == key_id and step == "minute" and begin >= start
            }
        return KeyHistory(networks, minutes)

    def alerts(self, query: AlertQuery) -> Sequence[Alert]:
        with self._lock:
            found = [alert for alert in self._alerts.values() if _alert_matches(query, alert)]
        found.sort(key=lambda alert: (alert.first_seen, alert.id), reverse=True)
        return found[: query.limit]

    def close_alerts(self, kind: str, before: datetime, now: datetime) -> list[Alert]:
        closed = []
        with self._lock:
            for alert in list(self._alerts.values()):
                if alert.kind == kind and alert.state == "open" and alert.last_seen <= before:
                    self._alerts[alert.id] = replace(alert, state="closed", closed_at=now)
                    closed.append(self._alerts[alert.id])
        return closed

    def prune(self, before: datetime) -> int:
        with self._lock:
            kept = [record for record in self._decisions if record.at >= before]
            pruned = len(self._decisions) - len(kept)
            self._decisions = kept
            cutoff = to_micros(before)
            self._usage = {key: b for key, b in self._usage.items() if key[2] >= cutoff}
            forgotten = before - NETWORK_MEMORY
            self._networks = {k: v for k, v in self._networks.items() if v[1] >= forgotten}
            self._alerts = {
                i: a
                for i, a in self._alerts.items()
                if a.state == "open" or (a.closed_at is not None and a.closed_at >= before)
            }
        return pruned

    def close(self) -> None:
        pass


def _matches(query: DecisionQuery, record: DecisionRecord) -> bool:
    """The filter, in Python; the SQL store says the same in its ``WHERE`` clause."""
    if query.keyless:
        if record.key_id is not None:
            return False
    elif record.key_id != query.key_id:
        return False
    return (
        (query.client is None or record.client == query.client)
        and (query.since is None or record.at >= query.since)
        and (query.until is None or record.at < query.until)
        and (not query.codes or record.code.value in query.codes)
        and (query.action is None or record.action == query.action)
        and (query.request_id is None or record.request_id == query.request_id)
        and (query.after is None or (to_micros(record.at), record.id) < query.after)
    )


def _alert_matches(query: AlertQuery, alert: Alert) -> bool:
    return (
        (query.state is None or alert.state == query.state)
        and (not query.kinds or alert.kind in query.kinds)
        and (query.severity is None or alert.severity == query.severity)
        and (query.subject is None or alert.subject == query.subject)
        and (query.since is None or alert.last_seen >= query.since)
        and (query.until is None or alert.first_seen < query.until)
        and (query.after is None or (to_micros(alert.first_seen), alert.id) < query.after)
    )


register_scheme("memory", lambda url: MemoryStore())
