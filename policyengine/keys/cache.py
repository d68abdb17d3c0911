"""The lookup cache: key records by the hash of their secret (or by id), and, apart, the
hashes that no key has.

Found keys are kept least-recently-used first, up to ``maxsize``. Over a store that can
say what changed (SQLite, :class:`~policyengine.keys.store.WatchedStore`) an entry is kept
until its key changes; over any other an entry due for a refresh (past ``REFRESH_AT`` of
its TTL) is still served while one lookup refreshes it, so a key in steady use never
drops out. "No such key" answers live in a bounded cache of their own with a short TTL:
any number of unknown keys can neither evict a known one nor grow memory.

Reads take no lock: an entry is a tuple replaced whole, and a dictionary read or
``move_to_end`` is atomic, so a hit costs two dictionary operations and a clock read.
Writes and invalidations take the lock.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from policyengine.errors import ConfigError
from policyengine.record import KeyRecord

#: The fraction of its TTL after which an entry in use is refreshed from the store.
REFRESH_AT = 0.8
#: What a cached key costs, in bytes, for realistic keys read from an SQL store
#: (tracemalloc: ``python -m benchmarks --only memory``): how a memory budget becomes a
#: number of keys.
ENTRY_BYTES = 1024

#: The memory the lookup cache may take by default: 131,072 keys.
DEFAULT_CACHE_MEMORY = 128 * 1024 * 1024
#: The longest a "no such key" answer is kept by default.
NEGATIVE_TTL = 1.0
#: How often, at most, a cache over a watched store asks it whether another connection
#: changed it, by default: the longest another process's change can go unseen here.
CHECK_INTERVAL = 0.1


@dataclass(frozen=True, slots=True)
class CacheSettings:
    """The key manager's ``cache_*`` options. The cache holds ``size`` keys if given, else
    as many as ``memory`` bytes hold at :data:`ENTRY_BYTES` each; "no such key" answers
    are kept ``negative_ttl`` seconds (by default the shorter of 1 s and ``ttl``, and not
    at all over a store in this process's memory, ``in_process``).

    Over a watched store an entry is kept until its key changes (the lookup reads no age
    then), and the store is asked whether it changed every ``check_interval`` seconds at
    most; ``ttl`` is then only how long entries are still served while the store cannot
    be asked (``0`` turns the cache off over any store)."""

    ttl: float = 5.0
    size: int | None = None
    memory: int = DEFAULT_CACHE_MEMORY
    negative_ttl: float | None = None
    negative_size: int = 10_000
    check_interval: float = CHECK_INTERVAL

    def cache(self, timer: Callable[[], float], in_process: bool = False) -> LookupCache:
        """The cache these settings describe; :class:`ConfigError` if they cannot work."""
        ttl = _seconds("cache_ttl", self.ttl)
        _seconds("cache_check_interval", self.check_interval)
        if self.negative_ttl is not None:
            negative_ttl = _seconds("negative_cache_ttl", self.negative_ttl)
        else:
            # A store in this process answers "no such key" as fast as the cache would.
            negative_ttl = 0.0 if in_process else min(ttl, NEGATIVE_TTL)
        memory = self.memory
        if isinstance(memory, bool) or not isinstance(memory, int) or memory < ENTRY_BYTES:
            raise ConfigError(f"cache_memory must be a number of bytes, at least {ENTRY_BYTES}")
        size = memory // ENTRY_BYTES if self.size is None else self.size
        for name, count in (("cache_size", size), ("negative_cache_size", self.negative_size)):
            if isinstance(count, bool) or not isinstance(count, int) or count < 1:
                raise ConfigError(f"{name} must be a whole number of at least 1")
        return LookupCache(
            ttl,
            size,
            timer,
            negative_ttl=negative_ttl,
            negative_maxsize=self.negative_size,
        )


def _seconds(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0:
        raise ConfigError(f"{name} must be a number of seconds, 0 or more")
    return float(value)


#: A record, and when (on the cache's timer) it was read from the store.
Entry = tuple[KeyRecord, float]
#: The hash of a secret (``bytes``) or, for lookups by id, the key's id (``str``).
CacheKey = bytes | str


class LookupCache:
    def __init__(
        self,
        ttl: float,
        maxsize: int,
        timer: Callable[[], float],
        *,
        negative_ttl: float,
        negative_maxsize: int,
    ) -> None:
        self.ttl = ttl
        self.refresh_after = ttl * REFRESH_AT
        self.negative_ttl = negative_ttl
        self._maxsize = maxsize
        self._negative_maxsize = negative_maxsize
        self.timer = timer
        self._lock = threading.Lock()
        self._generation = 0
        self._found: OrderedDict[CacheKey, Entry] = OrderedDict()
        # Which cache keys hold each key's record, so that a change drops them in O(1).
        self._by_id: dict[str, bytes] = {}
        #: Hashes no key has, with when the store said so.
        self._absent: OrderedDict[bytes, float] = OrderedDict()
        self._refreshing: set[CacheKey] = set()

    def __len__(self) -> int:
        """How many keys are cached (hashes of no key are not counted)."""
        return len(self._found)

    @property
    def absent_count(self) -> int:
        return len(self._absent)

    @property
    def generation(self) -> int:
        """Read before a store lookup and handed to :meth:`put` after it."""
        return self._generation

    def found(self, key: CacheKey) -> Entry | None:
        """The entry for ``key``, however old (the caller judges its age), made the most
        recently used."""
        entry = self._found.get(key)
        if entry is not None:
            # Not contextlib.suppress: on every hit, its context manager costs more than the
            # move. Dropped meanwhile by another thread, the read still stands.
            try:  # noqa: SIM105
                self._found.move_to_end(key)
            except KeyError:
                pass
        return entry

    def found_id(self, key_id: str) -> Entry | None:
        """The entry of the key with this id: cached by id, or by the hash of its secret."""
        entry = self.found(key_id)
        if entry is None:
            key_hash = self._by_id.get(key_id)
            if key_hash is not None:
                entry = self.found(key_hash)
        return entry

    def is_absent(self, key_hash: bytes) -> bool:
        """Whether the store said recently that no key has this hash."""
        since = self._absent.get(key_hash)
        return since is not None and self.timer() - since < self.negative_ttl

    def put(self, key: CacheKey, record: KeyRecord | None, generation: int) -> None:
        # A change committed while the store was being read has already invalidated the
        # cache; what that read returned may predate it, so it is not cached.
        if record is None and self.negative_ttl <= 0:
            return
        with self._lock:
            if generation != self._generation:
                return
            now = self.timer()
            if record is None:
                if isinstance(key, bytes) and self.negative_ttl > 0:
                    self._absent[key] = now
                    self._absent.move_to_end(key)
                    while len(self._absent) > self._negative_maxsize:
                        self._absent.popitem(last=False)
                return
            if self.ttl <= 0:
                return
            self._found[key] = (record, now)
            self._found.move_to_end(key)
            if isinstance(key, bytes):
                self._absent.pop(key, None)
                self._by_id[record.id] = key
            while len(self._found) > self._maxsize:
                old_key, (old, _) = self._found.popitem(last=False)
                if isinstance(old_key, bytes) and self._by_id.get(old.id) == old_key:
                    del self._by_id[old.id]

    def warm(self, entries: list[tuple[bytes, KeyRecord]], generation: int) -> int:
        """Add records read ahead of any lookup as the least recently used, leaving the
        keys already cached as they are and never evicting one; how many were added."""
        with self._lock:
            if generation != self._generation or self.ttl <= 0:
                return 0
            now = self.timer()
            added = 0
            for key, record in entries:
                if len(self._found) >= self._maxsize:
                    break
                if key in self._found:
                    continue
                self._found[key] = (record, now)
                self._found.move_to_end(key, last=False)
                self._by_id.setdefault(record.id, key)
                added += 1
            return added

    @property
    def full(self) -> bool:
        return len(self._found) >= self._maxsize

    def claim_refresh(self, key: CacheKey) -> bool:
        """Whether the caller is the one to refresh ``key`` (until :meth:`refreshed`)."""
        with self._lock:
            if key in self._refreshing:
                return False
            self._refreshing.add(key)
            return True

    def refreshing(self, key: CacheKey) -> bool:
        return key in self._refreshing

    def refreshed(self, key: CacheKey) -> None:
        with self._lock:
            self._refreshing.discard(key)

    def invalidate(self, key_id: str) -> None:
        with self._lock:
            self._generation += 1
            key_hash = self._by_id.pop(key_id, None)
            if key_hash is not None:
                self._found.pop(key_hash, None)
            self._found.pop(key_id, None)

    def clear(self) -> None:
        with self._lock:
            self._generation += 1
            self._found = OrderedDict()
            self._by_id = {}
            self._absent = OrderedDict()
