"""``memory://``: the monitor's records in this process's memory, gone when it exits."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import datetime

from policyengine.keys.codec import to_micros
from policyengine.monitor.records import DecisionRecord
from policyengine.monitor.store import Batch, DecisionQuery, register_scheme


class MemoryStore:
    persistent = False

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._decisions: list[DecisionRecord] = []

    def write(self, batch: Batch) -> None:
        with self._lock:
            self._decisions.extend(batch.decisions)

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
