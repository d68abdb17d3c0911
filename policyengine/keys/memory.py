"""``memory://``: keys in this process's memory, gone when it exits. For tests and demos."""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from pathlib import Path

from policyengine.errors import ConfigError, StorageError
from policyengine.keys.store import KeyQuery, StoredKey, register_scheme
from policyengine.record import KeyRecord
from policyengine.redaction import redact


class MemoryStore:
    persistent = False
    #: It answers from this process's memory and never waits: a lookup that may not wait
    #: (on an event loop) asks it all the same.
    in_process = True
    secret_file: Path | None = None

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._records: dict[str, KeyRecord] = {}
        self._ids_by_hash: dict[str, str] = {}

    def insert(self, record: KeyRecord, key_hash: str) -> None:
        with self._lock:
            self._insert(record, key_hash)

    def get(self, key_id: str) -> KeyRecord | None:
        return self._records.get(key_id)

    def get_by_hash(self, key_hash: str) -> StoredKey | None:
        key_id = self._ids_by_hash.get(key_hash)
        if key_id is None:
            return None
        return StoredKey(self._records[key_id], key_hash)

    def update(self, record: KeyRecord) -> bool:
        with self._lock:
            return self._update(record)

    def rotate(self, old: KeyRecord, new: KeyRecord, new_hash: str) -> bool:
        with self._lock:
            if new.id in self._records or new_hash in self._ids_by_hash:
                raise StorageError(f"a key with id {new.id} or the same hash already exists")
            if not self._update(old):
                return False
            self._insert(new, new_hash)
            return True

    def list(self, query: KeyQuery) -> Sequence[KeyRecord]:
        with self._lock:
            records = [record for record in self._records.values() if query.matches(record)]
        records.sort(key=lambda record: (record.created_at, record.id), reverse=True)
        return records[: query.limit]

    def touch(self, used: Mapping[str, datetime]) -> None:
        with self._lock:
            for key_id, minute in used.items():
                record = self._records.get(key_id)
                if record is not None and (
                    record.last_used_at is None or record.last_used_at < minute
                ):
                    self._records[key_id] = replace(record, last_used_at=minute)

    def close(self) -> None:
        """Nothing to release; the keys live as long as the object."""

    def _insert(self, record: KeyRecord, key_hash: str) -> None:
        if record.id in self._records or key_hash in self._ids_by_hash:
            raise StorageError(f"a key with id {record.id} or the same hash already exists")
        self._records[record.id] = record
        self._ids_by_hash[key_hash] = record.id

    def _update(self, record: KeyRecord) -> bool:
        stored = self._records.get(record.id)
        if stored is None or stored.revision != record.revision - 1:
            return False
        self._records[record.id] = replace(record, last_used_at=stored.last_used_at)
        return True


def _open(url: str, create: bool) -> MemoryStore:
    if url.rstrip("/") != "memory:":
        raise ConfigError(f"invalid memory store URL {redact(url)!r}: write memory://")
    return MemoryStore()


register_scheme("memory", _open)
