"""The lookup cache under real traffic: sprays of unknown keys, more keys than it holds,
and keys in steady use whose entries come due."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator

import pytest

from policyengine.errors import ConfigError, StorageError
from policyengine.keys.cache import ENTRY_BYTES
from policyengine.keys.format import KeyFormat
from policyengine.keys.hashing import KeyHasher
from policyengine.keys.lookup import NotCached
from policyengine.keys.manager import KeyManager
from policyengine.keys.store import StoredKey

from .support import SECRET, Clock, policy_set
from .test_key_lookup import CountingStore


@pytest.fixture
def counting() -> CountingStore:
    return CountingStore()


def manager_over(counting: CountingStore, clock: Clock, **options: object) -> KeyManager:
    return KeyManager(
        counting,
        policy_set,
        hasher=KeyHasher(SECRET),
        clock=clock,
        maintenance_interval=None,
        **options,  # type: ignore[arg-type]
    )


@pytest.fixture
def small(counting: CountingStore, clock: Clock) -> Iterator[KeyManager]:
    manager = manager_over(counting, clock, cache_size=10, negative_cache_size=100)
    yield manager
    manager.close()


def secrets_of(manager: KeyManager, count: int) -> list[str]:
    return [
        manager.create(type="read-only", label=f"key {i}", environment="live").secret
        for i in range(count)
    ]


def unknown_keys(count: int) -> list[str]:
    """Well-formed keys that no store holds: free to mint, since the checksum is public."""
    key_format = KeyFormat("tdoc")
    return [key_format.generate("live") for _ in range(count)]


def test_a_spray_of_unknown_keys_evicts_no_known_key(
    small: KeyManager, counting: CountingStore
) -> None:
    known = secrets_of(small, 10)
    for secret in known:
        assert small.lookup(secret) is not None
    for secret in unknown_keys(10_000):
        assert small.lookup(secret) is None
    before = counting.hash_lookups
    for secret in known:
        assert small.lookup(secret) is not None
    assert counting.hash_lookups == before


def test_unknown_keys_take_bounded_memory(small: KeyManager) -> None:
    for secret in unknown_keys(1_000):
        small.lookup(secret)
    cache = small._lookups.cache
    assert cache.absent_count == 100
    assert len(cache) == 0


def test_an_unknown_key_asked_again_soon_is_answered_from_memory(
    small: KeyManager, counting: CountingStore, clock: Clock
) -> None:
    unknown = unknown_keys(1)[0]
    for _ in range(50):
        assert small.lookup(unknown) is None
    assert counting.hash_lookups == 1
    clock.advance(seconds=1)  # "no such key" is kept one second by default
    assert small.lookup(unknown) is None
    assert counting.hash_lookups == 2


def test_the_least_recently_used_key_goes_first(small: KeyManager, counting: CountingStore) -> None:
    first, *others = secrets_of(small, 11)
    small.lookup(first)
    for secret in others[:9]:
        small.lookup(secret)
        small.lookup(first)  # kept in use
    small.lookup(others[9])  # the eleventh key: the one unused longest goes
    before = counting.hash_lookups
    small.lookup(first)
    assert counting.hash_lookups == before
    small.lookup(others[0])
    assert counting.hash_lookups == before + 1


def test_a_key_in_use_is_refreshed_before_it_expires(counting: CountingStore, clock: Clock) -> None:
    manager = manager_over(counting, clock, cache_ttl=5.0)
    secret = secrets_of(manager, 1)[0]
    manager.lookup(secret)
    clock.advance(seconds=3)
    manager.lookup(secret)
    assert counting.hash_lookups == 1
    clock.advance(seconds=1)  # 80% of the TTL: the next use refreshes the entry
    manager.lookup(secret)
    assert counting.hash_lookups == 2
    clock.advance(seconds=3.5)  # past the first read's TTL, within the refresh's
    counting.down = True
    # Served from the refreshed entry; the failed refresh does not fail the lookup.
    assert manager.lookup(secret) is not None
    clock.advance(seconds=1.5)  # the refreshed entry's TTL is over too
    with pytest.raises(StorageError):
        manager.lookup(secret)
    manager.close()


def test_a_lookup_by_id_is_served_from_the_entry_of_its_secret(
    small: KeyManager, counting: CountingStore
) -> None:
    secret = secrets_of(small, 1)[0]
    record = small.lookup(secret)
    assert record is not None
    calls: list[str] = []
    original = counting.get

    def counted_get(key_id: str) -> object:
        calls.append(key_id)
        return original(key_id)

    counting.get = counted_get  # type: ignore[method-assign]
    assert small.lookup_id(record.id) == record
    assert calls == []


def test_the_cache_is_sized_by_a_memory_budget_unless_a_number_of_keys_is_given(
    counting: CountingStore, clock: Clock
) -> None:
    default = manager_over(counting, clock)
    assert default._lookups.cache._maxsize == 128 * 1024 * 1024 // ENTRY_BYTES
    default.close()
    budget = manager_over(counting, clock, cache_memory=8 * 1024 * 1024)
    assert budget._lookups.cache._maxsize == 8 * 1024
    budget.close()
    with pytest.raises(ConfigError, match="cache_memory"):
        manager_over(counting, clock, cache_memory=10)
    with pytest.raises(ConfigError, match="negative_cache_size"):
        manager_over(counting, clock, negative_cache_size=0)


def test_a_failed_refresh_serves_the_cached_key_until_it_expires_and_says_so(
    counting: CountingStore, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    manager = manager_over(counting, clock, cache_ttl=5.0)
    secret = secrets_of(manager, 1)[0]
    record = manager.lookup(secret)
    assert record is not None
    clock.advance(seconds=4.5)  # due for a refresh, within the TTL
    counting.down = True
    with caplog.at_level(logging.WARNING, logger="policyengine.keys"):
        assert manager.lookup(secret) == record
        assert manager.lookup_id(record.id) == record
    assert (
        caplog.messages
        == ["could not refresh a cached key (the store is down); it is served until it expires"] * 2
    )
    clock.advance(seconds=0.5)  # the TTL is over: nothing stale is served
    with pytest.raises(StorageError):
        manager.lookup(secret)
    with pytest.raises(StorageError):
        manager.lookup_id(record.id)
    manager.close()


def test_a_key_in_steady_use_sees_a_change_made_elsewhere_at_each_refresh(
    counting: CountingStore, clock: Clock
) -> None:
    server = manager_over(counting, clock, cache_ttl=5.0)
    elsewhere = manager_over(counting, clock)  # another process sharing the store
    issued = elsewhere.create(type="read-only", label="shared", environment="live")
    assert server.lookup(issued.secret).state(clock.now) == "active"  # type: ignore[union-attr]
    clock.advance(seconds=4)  # the first refresh
    assert server.lookup(issued.secret).state(clock.now) == "active"  # type: ignore[union-attr]
    elsewhere.disable(issued.key.id)
    clock.advance(seconds=3.9)
    assert server.lookup(issued.secret).state(clock.now) == "active"  # type: ignore[union-attr]
    clock.advance(seconds=0.1)  # the second refresh, 80% of the TTL after the first
    assert server.lookup(issued.secret).state(clock.now) == "disabled"  # type: ignore[union-attr]
    server.close()
    elsewhere.close()


def test_a_key_looked_up_by_id_sees_a_change_made_elsewhere_at_its_refresh(
    counting: CountingStore, clock: Clock
) -> None:
    server = manager_over(counting, clock, cache_ttl=5.0)
    elsewhere = manager_over(counting, clock)
    issued = elsewhere.create(type="read-only", label="shared", environment="live")
    assert server.lookup_id(issued.key.id) == elsewhere.get(issued.key.id)
    assert server.lookup_id("k_" + "0" * 24) is None
    elsewhere.disable(issued.key.id)
    clock.advance(seconds=3.9)
    assert server.lookup_id(issued.key.id).state(clock.now) == "active"  # type: ignore[union-attr]
    clock.advance(seconds=0.1)
    assert server.lookup_id(issued.key.id).state(clock.now) == "disabled"  # type: ignore[union-attr]
    server.close()
    elsewhere.close()


class SlowStore(CountingStore):
    """A store whose reads by hash wait, once armed, until the test lets them go."""

    def __init__(self) -> None:
        super().__init__()
        self.armed = False
        self.reading = threading.Event()
        self.release = threading.Event()

    def get_by_hash(self, key_hash: str) -> StoredKey | None:
        if self.armed:
            self.reading.set()
            assert self.release.wait(5), "the test never let the read go"
        return super().get_by_hash(key_hash)


def test_while_one_lookup_refreshes_a_key_others_are_served_the_cached_entry(
    clock: Clock,
) -> None:
    slow = SlowStore()
    manager = manager_over(slow, clock, cache_ttl=5.0)
    secret = secrets_of(manager, 1)[0]
    record = manager.lookup(secret)
    clock.advance(seconds=4.5)
    slow.armed = True
    refreshing = threading.Thread(target=manager.lookup, args=(secret,))
    refreshing.start()
    try:
        assert slow.reading.wait(5)
        assert manager.lookup(secret) == record
        # Even a lookup that may not wait for the store is answered from the cache.
        assert manager.lookup(secret, wait=False) == record
    finally:
        slow.release.set()
        refreshing.join(5)
    manager.close()


def test_a_lookup_that_may_not_wait_is_not_cached_where_the_store_would_be_asked(
    small: KeyManager, clock: Clock
) -> None:
    secret = secrets_of(small, 1)[0]
    record = small.lookup(secret)
    assert record is not None
    small._lookups.cache.clear()
    with pytest.raises(NotCached):
        small.lookup_id(record.id, wait=False)
    assert small.lookup_id(record.id) == record
    assert small.lookup_id(record.id, wait=False) == record
