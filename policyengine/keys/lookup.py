"""What the hot path keeps in memory: looked-up keys, and which keys were used.

A check must not wait for a database, so key records found by hash are cached: over a
store that says what changed (SQLite) until they change, with the store's keys known by
hash (:mod:`policyengine.keys.watch`); over any other for a short time, the bound on how
stale another process's change can look here. "This key was used" is noted in memory and
written in batches, at minute granularity.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from policyengine.errors import InvalidValue, StorageError
from policyengine.keys.cache import CacheKey, CacheSettings, Entry
from policyengine.keys.format import KeyFormat
from policyengine.keys.hashing import KeyHasher
from policyengine.keys.store import KeyStore, WatchedStore
from policyengine.keys.watch import StoreWatch, prefix
from policyengine.record import KeyRecord

log = logging.getLogger("policyengine.keys")


def minute_of(moment: datetime) -> datetime:
    return moment.replace(second=0, microsecond=0)


class LastUsed:
    """Which keys were used in which minute, until the next :meth:`drain` writes them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: dict[str, datetime] = {}
        # The minute each key was last noted in, so that its next use that minute is free.
        self._noted: dict[str, datetime] = {}
        # The current minute's start and end in seconds since the epoch, and its start as
        # a time, kept so that most notes compare two numbers and compute nothing.
        self._minute: tuple[float, float, datetime] = (math.inf, -math.inf, datetime.min)

    def note(self, record: KeyRecord, at: float) -> None:
        """``record`` was used at ``at``, in seconds since the epoch."""
        start, end, minute = self._minute
        if not start <= at < end:
            start = at - at % 60  # exact: a whole minute of seconds since the epoch
            minute = datetime.fromtimestamp(start, UTC)
            self._minute = (start, start + 60, minute)
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


class NotCached(Exception):
    """Raised instead of querying the store when the caller asked not to wait for it."""


class KeyLookups:
    """Secret → key record, as a check needs it: offline format check, one HMAC, the cache,
    and the store only on a miss or to refresh an entry before it expires."""

    def __init__(
        self,
        store: KeyStore,
        hasher: KeyHasher,
        key_format: KeyFormat,
        settings: CacheSettings,
        timer: Callable[[], float],
    ) -> None:
        self._store = store
        self._hasher = hasher
        self._format = key_format
        self._in_process = bool(getattr(store, "in_process", False))
        self.cache = settings.cache(timer, self._in_process)
        self._last_used = LastUsed()
        #: Over a watched store, what it holds and when it is next asked what changed.
        self.watch = (
            StoreWatch(store, self.cache, timer, settings.check_interval, settings.ttl)
            if settings.ttl > 0 and isinstance(store, WatchedStore)
            else None
        )

    def lookup(
        self,
        secret: str,
        now: Callable[[], datetime] | datetime,
        touch: bool,
        wait: bool = True,
    ) -> KeyRecord | None:
        """``now`` may be a clock, read only when a use is noted: most calls need no time.
        With ``wait=False``, :class:`NotCached` is raised where the store would be asked."""
        if not isinstance(secret, str) or len(secret) != self._format.length:
            raise self._malformed(secret)
        try:
            key_hash = self._hasher.digest(secret)
        except UnicodeEncodeError:  # a lone surrogate: no key is made of one
            raise self._malformed(secret) from None
        cache = self.cache
        watch = self.watch
        if watch is not None and cache.timer() >= watch.due:
            self._sync(watch, wait)
        entry = cache.found(key_hash)
        # Over a watched store an entry is in force until the watch drops it.
        if entry is not None and (
            watch is not None or cache.timer() - entry[1] < cache.refresh_after
        ):
            record: KeyRecord | None = entry[0]
        elif entry is None and (
            cache.is_absent(key_hash)
            if watch is None
            else not self._held(watch, secret, key_hash, wait)
        ):
            return None
        else:
            # Only what the cache has not seen is checked offline: a malformed key is
            # never cached, so it is refused here before any store lookup.
            if entry is None and (problem := self._format.problem(secret)) is not None:
                raise InvalidValue(problem)
            record = self._stored(key_hash, entry, self._by_hash, wait)
        if record is not None and touch:
            moment = now if isinstance(now, datetime) else now()
            self._last_used.note(record, moment.timestamp())
        return record

    @property
    def last_used(self) -> LastUsed:
        """Where :meth:`lookup` notes a use, for a caller that looks up without noting."""
        return self._last_used

    def lookup_id(self, key_id: str, wait: bool = True) -> KeyRecord | None:
        """The record of the key with this id, through the same cache as :meth:`lookup`
        (and so dropped from it by the same invalidations)."""
        cache = self.cache
        watch = self.watch
        if watch is not None and cache.timer() >= watch.due:
            self._sync(watch, wait)
        entry = cache.found_id(key_id)
        if entry is not None and (
            watch is not None or cache.timer() - entry[1] < cache.refresh_after
        ):
            return entry[0]
        return self._stored(key_id, entry, self._store.get, wait)

    @staticmethod
    def _sync(watch: StoreWatch, wait: bool) -> None:
        # The stamp is one read of a local file, no query: an event loop may make it.
        if watch.unchanged():
            return
        if not wait:
            raise NotCached
        watch.sync()

    def _malformed(self, secret: object) -> InvalidValue:
        """The refusal of a secret that cannot be a key: what its format finds wrong."""
        return InvalidValue(self._format.problem(secret) or "malformed API key")

    def _held(self, watch: StoreWatch, secret: str, key_hash: bytes, wait: bool) -> bool:
        """Whether the watched store may hold this hash; a malformed key, which no store
        holds, raises :class:`InvalidValue` instead."""
        wanted = prefix(key_hash)
        if wanted in watch.prefixes:
            return True
        if (problem := self._format.problem(secret)) is not None:
            raise InvalidValue(problem)
        if watch.surely_absent(wanted):
            return False
        if not wait:
            raise NotCached
        return watch.holds(wanted)

    def added(self, key_hash: str) -> None:
        """Tell the watch about a key this process has just written."""
        if self.watch is not None:
            self.watch.added(key_hash)

    def _stored(
        self,
        key: CacheKey,
        entry: Entry | None,
        fetch: Callable[[Any], KeyRecord | None],
        wait: bool,
    ) -> KeyRecord | None:
        """What the store says of ``key``, cached; or, for an entry due for a refresh that
        another lookup is refreshing (or that fails to refresh), the entry still in force."""
        cache = self.cache
        # A store in this process's memory never keeps a caller waiting: it is asked.
        wait = wait or self._in_process
        if entry is not None and cache.timer() - entry[1] < cache.ttl:
            if not wait:
                if cache.refreshing(key):
                    return entry[0]
                raise NotCached
            if not cache.claim_refresh(key):
                return entry[0]
            try:
                return self._fetch(key, fetch)
            except StorageError as error:
                log.warning(
                    "could not refresh a cached key (%s); it is served until it expires", error
                )
                return entry[0]
            finally:
                cache.refreshed(key)
        if not wait:
            raise NotCached
        return self._fetch(key, fetch)

    def _fetch(self, key: CacheKey, fetch: Callable[[Any], KeyRecord | None]) -> KeyRecord | None:
        generation = self.cache.generation
        record = fetch(key)
        self.cache.put(key, record, generation)
        return record

    def _by_hash(self, key_hash: bytes) -> KeyRecord | None:
        computed = key_hash.hex()
        stored = self._store.get_by_hash(computed)
        if stored is not None and self._hasher.matches(computed, stored.key_hash):
            return stored.record
        return None

    def flush(self, now: datetime) -> None:
        pending = self._last_used.drain(now)
        if not pending:
            return
        try:
            self._store.touch(pending)
        except StorageError:
            self._last_used.restore(pending)
            raise
