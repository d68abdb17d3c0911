"""Keeping the lookup cache in step with a store that says what changed (SQLite).

The watch holds a prefix of the hash of every key in the store, read once and then kept
in step with the store's change log: a key that no store holds is refused from memory,
which is what a spray of made-up keys costs, while a key created a moment ago by another
connection is found, because a hash not held sends the watch to the store's stamp (the
WAL-index header), then, if anything was committed, to its version (``PRAGMA
data_version``), and to its change log if another connection committed. Cached records
stay in force until the log names their key; the version is asked at most every
``check_interval`` seconds on the way to a cached record, which bounds how long another
process's change goes unseen here.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable

from policyengine.errors import StorageError
from policyengine.keys.cache import LookupCache
from policyengine.keys.store import WatchedStore

log = logging.getLogger("policyengine.keys")

#: Keys read at a time when the cache is filled ahead of lookups.
WARM_BATCH = 1000


def prefix(key_hash: bytes) -> int:
    """What the watch keeps of a hash: its first 8 bytes, a small integer. Two keys whose
    hashes share them only cost the rarer of them a store read."""
    return int.from_bytes(key_hash[:8], "big")


class StoreWatch:
    def __init__(
        self,
        store: WatchedStore,
        cache: LookupCache,
        timer: Callable[[], float],
        check_interval: float,
        outage_ttl: float,
    ) -> None:
        self._store = store
        self._cache = cache
        self._timer = timer
        self._interval = check_interval
        self._outage_ttl = outage_ttl
        self._lock = threading.Lock()
        #: The prefix (:func:`prefix`) of the hash of every key in the store.
        self.prefixes: set[int] = set()
        self._version: int | None = None
        self._position = 0
        # The store's stamp when it was last asked, and found caught up with.
        self._stamp: bytes | None = None
        self._synced_at = -math.inf
        #: When, on ``timer``, the store is next asked whether it changed.
        self.due = -math.inf

    def __len__(self) -> int:
        """How many keys the watch knows of."""
        return len(self.prefixes)

    def unchanged(self) -> bool:
        """Whether nothing at all was committed since the last look, by one read of the
        store's stamp and no query; if so the next look is put off another interval."""
        stamp = self._stamp
        if stamp is None or self._store.stamp() != stamp:
            return False
        self.due = self._timer() + self._interval
        return True

    def surely_absent(self, wanted: int) -> bool:
        """Whether no key whose hash has this :func:`prefix` is in the store, as far as the
        keys known and the store's stamp tell, without a query."""
        if wanted in self.prefixes:
            return False
        stamp = self._stamp
        return stamp is not None and self._store.stamp() == stamp

    def holds(self, wanted: int) -> bool:
        """Whether a key whose hash has this :func:`prefix` may be in the store; ``False``
        only if the store, asked now, has changed since in no way that adds one."""
        if wanted in self.prefixes:
            return True
        if self.surely_absent(wanted):
            return False  # nothing was committed since the last look
        self.sync(strict=True)
        return wanted in self.prefixes

    def added(self, key_hash: str) -> None:
        """A key this process's own connection just wrote, which the version does not show.
        Under the lock: a reading of every hash made before the write must not replace
        the set after it."""
        with self._lock:
            self.prefixes.add(prefix(bytes.fromhex(key_hash)))

    def sync(self, strict: bool = False) -> None:
        """Catch up with what other connections changed. A store that cannot be asked is
        an error when ``strict`` (a lookup that must know), or when the last answer is
        older than the cache's TTL; until then cached records are served, as a refresh that
        fails serves them until they expire."""
        with self._lock:
            now = self._timer()
            try:
                self._catch_up()
            except StorageError as error:
                if strict or now - self._synced_at >= self._outage_ttl:
                    raise
                log.warning(
                    "could not ask the key store what changed (%s); cached keys are served "
                    "for up to %g s",
                    error,
                    self._outage_ttl,
                )
                self.due = now + self._interval
                return
            self._synced_at = now
            self.due = now + self._interval

    def _catch_up(self) -> None:
        # Read before the version, and the version before the log: a commit in between
        # moves them, and is read at the next look.
        stamp = self._store.stamp()
        if stamp is not None and stamp == self._stamp:
            return
        self._stamp = None
        version = self._store.version()
        if version == self._version:
            self._stamp = stamp
            return
        changes = None if self._version is None else self._store.changes_since(self._position)
        if changes is None:
            # The first look, or the log no longer reaches back far enough: start afresh.
            if self._version is not None:
                log.info("the key store's change log moved past this cache; reading it again")
                self._cache.clear()
            position, hashes = self._store.key_hashes()
            self.prefixes = {prefix(bytes.fromhex(key_hash)) for key_hash in hashes}
            self._position = position
        else:
            for key_id, key_hash in changes.keys:
                self.prefixes.add(prefix(bytes.fromhex(key_hash)))
                self._cache.invalidate(key_id)
            self._position = changes.position
        self._version = version
        self._stamp = stamp

    def warm(self, stopped: threading.Event) -> int:
        """Fill the cache with the newest keys, as many as it holds, until ``stopped``;
        how many were added. Keys already cached, or changed meanwhile, are left alone."""
        self.sync(strict=True)
        added = 0
        after = None
        while not stopped.is_set() and not self._cache.full:
            generation = self._cache.generation
            batch = self._store.stored_keys(WARM_BATCH, after)
            added += self._cache.warm(
                [(bytes.fromhex(stored.key_hash), stored.record) for stored in batch], generation
            )
            if len(batch) < WARM_BATCH:
                break
            last = batch[-1].record
            after = (last.created_at, last.id)
        return added
