"""What the hot path keeps in memory: recently looked-up keys, and which keys were used.

A check must not wait for a database, so key records found by hash are cached for a
short time (the bound on how stale another process's change can look here), and "this
key was used" is noted in memory and written in batches, at minute granularity.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Final

from policyengine.errors import ConfigError, InvalidValue, StorageError
from policyengine.keys.format import KeyFormat
from policyengine.keys.hashing import KeyHasher
from policyengine.keys.store import KeyStore
from policyengine.record import KeyRecord


class _Missing:
    """The cache has no answer, as distinct from a cached "no such key" (``None``)."""


MISSING: Final = _Missing()


class LookupCache:
    """Key hash → the key's record, or ``None`` for a hash no key has.

    Reads take no lock: an entry is a tuple replaced whole, and a dict read is atomic, so
    a check on the hot path costs one dictionary lookup and one clock read. Writes and
    invalidations take the lock; past ``maxsize`` the oldest entries go first.
    """

    def __init__(self, ttl: float, maxsize: int, timer: Callable[[], float]) -> None:
        self._entries: dict[str, tuple[KeyRecord | None, float]] = {}
        self._ttl = ttl
        self._maxsize = maxsize
        self._timer = timer
        self._lock = threading.Lock()
        self._generation = 0

    @property
    def generation(self) -> int:
        """Read before a store lookup and handed to :meth:`put` after it."""
        return self._generation

    def get(self, key_hash: str) -> KeyRecord | _Missing | None:
        entry = self._entries.get(key_hash)
        if entry is None or entry[1] <= self._timer():
            return MISSING
        return entry[0]

    def put(self, key_hash: str, record: KeyRecord | None, generation: int) -> None:
        # A change committed while the store was being read has already invalidated the
        # cache; what that read returned may predate it, so it is not cached.
        with self._lock:
            if generation != self._generation or self._ttl <= 0:
                return
            self._entries[key_hash] = (record, self._timer() + self._ttl)
            while len(self._entries) > self._maxsize:
                del self._entries[next(iter(self._entries))]

    def invalidate(self, key_id: str) -> None:
        with self._lock:
            self._generation += 1
            stale = [
                key_hash
                for key_hash, (record, _) in self._entries.items()
                if record is not None and record.id == key_id
            ]
            for key_hash in stale:
                self._entries.pop(key_hash, None)
            self._entries.pop(f"id:{key_id}", None)

    def clear(self) -> None:
        with self._lock:
            self._generation += 1
            self._entries = {}


def minute_of(moment: datetime) -> datetime:
    return moment.replace(second=0, microsecond=0)


class LastUsed:
    """Which keys were used in which minute, until the next :meth:`drain` writes them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: dict[str, datetime] = {}
        # The minute each key was last noted in, so that its next use that minute is free.
        self._noted: dict[str, datetime] = {}
        # The current minute and the next, kept so that most notes compare, not compute.
        self._minute: tuple[datetime, datetime] = (
            datetime.max.replace(tzinfo=UTC),
            datetime.min.replace(tzinfo=UTC),
        )

    def note(self, record: KeyRecord, now: datetime) -> None:
        start, end = self._minute
        if not start <= now < end:
            start = minute_of(now)
            self._minute = (start, start + timedelta(minutes=1))
        minute = start
        if self._noted.get(record.id) == minute:
            return
        if record.last_used_at is not None and record.last_used_at >= minute:
            return
        with self._lock:
            self._noted[record.id] = minute
            pending = self._pending.get(record.id)
            if pending is None or pending < minute:
                self._pending[record.id] = minute

    def drain(self, now: datetime) -> dict[str, datetime]:
        """The uses to write, forgetting them; keys noted before this minute are forgotten
        entirely, which keeps the memory to the keys in use."""
        current = minute_of(now)
        with self._lock:
            pending, self._pending = self._pending, {}
            self._noted = {key: minute for key, minute in self._noted.items() if minute >= current}
        return pending

    def restore(self, pending: dict[str, datetime]) -> None:
        """Put back uses whose write failed, so that the next drain tries them again."""
        with self._lock:
            for key_id, minute in pending.items():
                if key_id not in self._pending or self._pending[key_id] < minute:
                    self._pending[key_id] = minute


class KeyLookups:
    """Secret → key record, as a check needs it: offline format check, one HMAC, the cache,
    and the store only on a miss."""

    def __init__(
        self,
        store: KeyStore,
        hasher: KeyHasher,
        key_format: KeyFormat,
        *,
        ttl: float,
        maxsize: int,
        timer: Callable[[], float],
    ) -> None:
        if ttl < 0 or maxsize < 1:
            raise ConfigError("cache_ttl must be 0 seconds or more, and cache_size at least 1")
        self._store = store
        self._hasher = hasher
        self._format = key_format
        self.cache = LookupCache(ttl, maxsize, timer)
        self._last_used = LastUsed()

    def lookup(
        self, secret: str, now: Callable[[], datetime] | datetime, touch: bool
    ) -> KeyRecord | None:
        """``now`` may be a clock, read only when a use is noted: most calls need no time."""
        if len(secret) != self._format.length:
            raise InvalidValue(self._format.problem(secret) or "malformed API key")
        key_hash = self._hasher.hash(secret)
        cached = self.cache.get(key_hash)
        if isinstance(cached, _Missing):
            # Only what the cache has not seen is checked offline: a malformed key is
            # never cached, so it is refused here before any store lookup.
            if not self._format.is_well_formed(secret):
                raise InvalidValue(self._format.problem(secret) or "malformed API key")
            generation = self.cache.generation
            stored = self._store.get_by_hash(key_hash)
            record = (
                stored.record
                if stored is not None and self._hasher.matches(key_hash, stored.key_hash)
                else None
            )
            self.cache.put(key_hash, record, generation)
        else:
            record = cached
        if record is not None and touch:
            self._last_used.note(record, now if isinstance(now, datetime) else now())
        return record

    def lookup_id(self, key_id: str) -> KeyRecord | None:
        """The record of the key with this id, through the same cache as :meth:`lookup`
        (and so dropped from it by the same invalidations)."""
        cache_key = f"id:{key_id}"
        cached = self.cache.get(cache_key)
        if not isinstance(cached, _Missing):
            return cached
        generation = self.cache.generation
        record = self._store.get(key_id)
        self.cache.put(cache_key, record, generation)
        return record

    def flush(self, now: datetime) -> None:
        pending = self._last_used.drain(now)
        if not pending:
            return
        try:
            self._store.touch(pending)
        except StorageError:
            self._last_used.restore(pending)
            raise
