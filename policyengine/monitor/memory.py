"""``memory://``: the monitor's records in this process's memory, gone when it exits.

For tests, demos, and metrics without storage: it keeps at most :data:`MAX_DECISIONS`
decision records, the oldest going first, besides the retention period.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import datetime

from policyengine.keys.codec import to_micros
from policyengine.monitor.records import DecisionRecord
from policyengine.monitor.store import Batch, DecisionQuery, UsageQuery, register_scheme
from policyengine.monitor.usage import Bucket, BucketKey, UsagePoint, merge, point

MAX_DECISIONS = 100_000


class MemoryStore:
    persistent = False

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._decisions: list[DecisionRecord] = []
        self._usage: dict[BucketKey, Bucket] = {}

    def write(self, batch: Batch) -> None:
        with self._lock:
            self._decisions.extend(batch.decisions)
            if len(self._decisions) > MAX_DECISIONS:
                del self._decisions[: len(self._decisions) - MAX_DECISIONS]
            for key, bucket in batch.usage.items():
                merge(self._usage.setdefault(key, Bucket()), bucket)

    def usage(self, query: UsageQuery) -> Sequence[UsagePoint]:
        since, until = to_micros(query.since), to_micros(query.until)
        with self._lock:
            found = [
                point(step, start, bucket)
                for (key_id, step, start), bucket in self._usage.items()
                if key_id == query.key_id and step == query.step and since <= start < until
            ]
        return sorted(found, key=lambda p: p.start)

    def decisions(self, query: DecisionQuery) -> Sequence[DecisionRecord]:
        with self._lock:
            found = [record for record in self._decisions if _matches(query, record)]
        found.sort(key=lambda record: (record.at, record.id), reverse=True)
        return found[: query.limit]

    def prune(self, before: datetime) -> int:
        with self._lock:
            kept = [record for record in self._decisions if record.at >= before]
            pruned = len(self._decisions) - len(kept)
            self._decisions = kept
            cutoff = to_micros(before)
            self._usage = {key: b for key, b in self._usage.items() if key[2] >= cutoff}
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
        and (query.after is None or (to_micros(record.at), record.id) < query.after)
    )


register_scheme("memory", lambda url: MemoryStore())
