"""The hot path: lookups that stay off the database, and how fast changes reach them."""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import pytest

from policyengine.errors import ConfigError, InvalidValue, StorageError
from policyengine.keys.format import KeyFormat
from policyengine.keys.hashing import KeyHasher
from policyengine.keys.manager import KeyManager
from policyengine.keys.memory import MemoryStore
from policyengine.record import KeyRecord

from .conftest import ManagerFactory
from .support import SECRET, Clock, CountsLookups, policy_set


class CountingStore(CountsLookups, MemoryStore):
    """A memory store that counts what reaches it, and can be made to fail: a stand-in for
    a database, which may keep its caller waiting."""

    in_process = False

    def __init__(self) -> None:
        super().__init__()
        self.touches: list[dict[str, datetime]] = []

    def get(self, key_id: str) -> KeyRecord | None:
        if self.down:
            raise StorageError("the store is down")
        return super().get(key_id)

    def touch(self, used: Mapping[str, datetime]) -> None:
        if self.down:
            raise StorageError("the store is down")
        self.touches.append(dict(used))
        super().touch(used)


@pytest.fixture
def counting() -> CountingStore:
    return CountingStore()


@pytest.fixture
def counted(counting: CountingStore, clock: Clock) -> Any:
    manager = KeyManager(
        counting,
        policy_set,
        hasher=KeyHasher(SECRET),
        clock=clock,
        maintenance_interval=None,
        cache_ttl=5.0,
    )
    yield manager
    manager.close()


def create(manager: KeyManager) -> str:
    return manager.create(type="read-only", label="checks", environment="live").secret


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "not an API key: it is empty"),
        (None, "not an API key: it is empty"),
        (12345, "not an API key: it is empty"),
        ("Bearer x", "not an API key of ours: it should start with tdoc_live_ or tdoc_test_"),
        ("tdoc_live_short", "malformed API key: 5 characters follow the prefix, not 36"),
        (
            KeyFormat("tdoc").generate("live")[:-1] + "!",
            "malformed API key: character 36 after the prefix is not a letter or a digit",
        ),
        (  # a lone surrogate, which only an embedding caller can pass, encodes to nothing
            KeyFormat("tdoc").generate("live")[:-1] + "\ud800",
            "malformed API key: character 36 after the prefix is not a letter or a digit",
        ),
        (
            "tdoc_li\ud800e_" + KeyFormat("tdoc").generate("live")[10:],
            "not an API key of ours: it should start with tdoc_live_ or tdoc_test_",
        ),
    ],
)
def test_a_malformed_secret_is_refused_without_touching_the_store(
    counted: KeyManager, counting: CountingStore, text: object, problem: str
) -> None:
    with pytest.raises(InvalidValue) as refused:
        counted.lookup(text)  # type: ignore[arg-type]
    assert str(refused.value).startswith(problem)
    assert counting.hash_lookups == 0


def test_repeated_lookups_are_answered_from_the_cache(
    counted: KeyManager, counting: CountingStore, clock: Clock
) -> None:
    secret = create(counted)
    unknown = KeyFormat("tdoc").generate("live")
    for _ in range(100):
        assert counted.lookup(secret) is not None
        assert counted.lookup(unknown) is None
    assert counting.hash_lookups == 2
    clock.advance(seconds=5)
    counted.lookup(secret)
    assert counting.hash_lookups == 3


def test_a_store_outage_surfaces_as_a_storage_error(
    counted: KeyManager, counting: CountingStore
) -> None:
    secret = create(counted)
    counting.down = True
    with pytest.raises(StorageError):
        counted.lookup(secret)


def test_last_use_is_written_in_batches_at_minute_granularity(
    counted: KeyManager, counting: CountingStore, clock: Clock
) -> None:
    first, second = create(counted), create(counted)
    clock.now = clock.now.replace(second=10)
    for _ in range(50):
        counted.lookup(first)
        counted.lookup(second)
        clock.advance(seconds=0.5)
    counted.lookup(first, touch=False)
    assert counting.touches == []  # nothing is written on the request path
    counted.flush()
    minute = clock.now.replace(second=0, microsecond=0)
    assert len(counting.touches) == 1
    assert set(counting.touches[0].values()) == {minute}
    record = counted.lookup(first, touch=False)
    assert counted.get(record.id).last_used_at == minute  # type: ignore[union-attr]
    counted.flush()
    assert len(counting.touches) == 1  # nothing new to write


def test_last_use_is_the_minute_of_the_use_to_the_microsecond(
    counted: KeyManager, counting: CountingStore, clock: Clock
) -> None:
    secret = create(counted)
    clock.now = clock.now.replace(second=10, microsecond=250_000)
    record = counted.lookup(secret)
    counted.flush()
    assert counted.get(record.id).last_used_at == clock.now.replace(second=0, microsecond=0)  # type: ignore[union-attr]
    # Used again within the minute, after the write: nothing new to write.
    clock.advance(seconds=2)
    counted.lookup(secret)
    counted.flush()
    assert len(counting.touches) == 1


def test_a_use_at_the_first_instant_of_a_minute_counts_for_that_minute(
    counted: KeyManager, counting: CountingStore, clock: Clock
) -> None:
    secret = create(counted)
    clock.now = clock.now.replace(second=30)
    record = counted.lookup(secret)
    clock.now = clock.now.replace(minute=clock.now.minute + 1, second=0)
    counted.lookup(secret)
    counted.flush()
    assert counting.touches == [{record.id: clock.now}]  # type: ignore[union-attr]


def test_last_use_never_goes_back_to_an_earlier_minute(
    counted: KeyManager, counting: CountingStore, clock: Clock
) -> None:
    # Two requests read the clock either side of a minute and are noted out of order.
    secret = create(counted)
    later = clock.now.replace(minute=1, second=0)
    record = counted.lookup(secret, now=later)
    counted.lookup(secret, now=later - timedelta(milliseconds=1))
    counted.flush()
    assert counting.touches == [{record.id: later}]  # type: ignore[union-attr]
    assert counted.get(record.id).last_used_at == later  # type: ignore[union-attr]


def test_a_key_used_again_in_a_minute_already_written_is_not_written_again(
    counted: KeyManager, counting: CountingStore, clock: Clock
) -> None:
    secret = create(counted)
    clock.now = clock.now.replace(second=10)
    record = counted.lookup(secret)
    counted.flush()
    clock.advance(seconds=2)  # the cached record still says it was never used
    counted.lookup(secret)
    counted.flush()
    minute = clock.now.replace(second=0)
    assert counting.touches == [{record.id: minute}]  # type: ignore[union-attr]
    clock.advance(minutes=1)
    counted.lookup(secret)
    counted.flush()
    assert counting.touches == [{record.id: minute}, {record.id: minute + timedelta(minutes=1)}]  # type: ignore[union-attr]


def test_a_use_another_process_has_written_for_this_minute_is_not_written_again(
    counted: KeyManager, counting: CountingStore, clock: Clock
) -> None:
    other = KeyManager(
        counting, policy_set, hasher=KeyHasher(SECRET), clock=clock, maintenance_interval=None
    )
    secret = create(counted)
    clock.now = clock.now.replace(second=10)
    record = counted.lookup(secret)
    counted.flush()
    clock.advance(seconds=20)
    assert other.lookup(secret).last_used_at == clock.now.replace(second=0)  # type: ignore[union-attr]
    other.flush()
    assert counting.touches == [{record.id: clock.now.replace(second=0)}]  # type: ignore[union-attr]
    other.close()


def test_last_use_survives_a_failed_write(
    counted: KeyManager, counting: CountingStore, clock: Clock
) -> None:
    secret = create(counted)
    record = counted.lookup(secret)
    counting.down = True
    with pytest.raises(StorageError):
        counted.flush()
    counting.down = False
    counted.flush()
    assert counted.get(record.id).last_used_at == clock.now.replace(second=0, microsecond=0)  # type: ignore[union-attr]


def test_the_maintenance_thread_writes_last_use_without_being_asked(store_url: str) -> None:
    with KeyManager.open(
        store_url, policy_set, secret=SECRET, maintenance_interval=0.05
    ) as manager:
        issued = manager.create(type="read-only", label="background", environment="test")
        manager.lookup(issued.secret)
        deadline = time.monotonic() + 5
        while manager.get(issued.key.id).last_used_at is None:
            assert time.monotonic() < deadline, "last_used_at was never written"
            time.sleep(0.02)


def revoked_elsewhere(
    sql_url: str, make_manager: ManagerFactory, clock: Clock
) -> tuple[KeyManager, str]:
    """A server process that has cached a key, and the key's secret, which another
    process has just revoked."""
    admin = make_manager(url=sql_url)
    server = make_manager(url=sql_url, cache_ttl=30.0)
    issued = admin.create(type="read-only", label="shared", environment="live")
    assert server.lookup(issued.secret).state(clock.now) == "active"  # type: ignore[union-attr]
    admin.revoke(issued.key.id)
    return server, issued.secret


def test_another_process_sees_a_revocation_within_the_cache_ttl(
    postgres_url: str, make_manager: ManagerFactory, clock: Clock
) -> None:
    # PostgreSQL cannot say what changed: its entries live for the TTL (an SQLite store's
    # live until their key changes: test_store_watch.py).
    server, secret = revoked_elsewhere(postgres_url, make_manager, clock)
    clock.advance(seconds=23)
    # Without Redis a cached lookup may lag: until the entry's refresh (at 80% of the TTL)
    # for a key in use, and never beyond the TTL.
    assert server.lookup(secret).state(clock.now) == "active"  # type: ignore[union-attr]
    clock.advance(seconds=1)
    assert server.lookup(secret).state(clock.now) == "revoked"  # type: ignore[union-attr]


def test_an_unused_entry_is_never_served_past_the_cache_ttl(
    postgres_url: str, make_manager: ManagerFactory, clock: Clock
) -> None:
    server, secret = revoked_elsewhere(postgres_url, make_manager, clock)
    clock.advance(seconds=30)
    assert server.lookup(secret).state(clock.now) == "revoked"  # type: ignore[union-attr]


def test_with_redis_another_process_sees_a_revocation_at_once(
    sql_url: str, redis_url: str, make_manager: ManagerFactory, clock: Clock
) -> None:
    channel = f"policyengine-test:{time.time_ns()}"
    admin = make_manager(url=sql_url, redis=redis_url, redis_channel=channel, listen=False)
    server = make_manager(url=sql_url, redis=redis_url, redis_channel=channel, cache_ttl=3600.0)
    issued = admin.create(type="read-only", label="shared", environment="live")
    assert server.lookup(issued.secret).state(clock.now) == "active"  # type: ignore[union-attr]
    admin.revoke(issued.key.id)
    deadline = time.monotonic() + 5
    while server.lookup(issued.secret).state(clock.now) != "revoked":  # type: ignore[union-attr]
        assert time.monotonic() < deadline, "the revocation never reached the other process"
        time.sleep(0.01)


def test_an_unreachable_redis_is_a_storage_error() -> None:
    with pytest.raises(StorageError, match="cannot reach Redis"):
        KeyManager.open(
            "memory://", policy_set, redis="redis://127.0.0.1:1/0", maintenance_interval=None
        )


def test_a_clock_without_a_timezone_is_a_configuration_error(counting: CountingStore) -> None:
    with pytest.raises(ConfigError, match="timezone-aware"):
        KeyManager(
            counting,
            policy_set,
            hasher=KeyHasher(SECRET),
            clock=lambda: datetime(2030, 1, 1),
            maintenance_interval=None,
        )


def test_a_lookup_that_raced_a_change_is_not_cached(
    counted: KeyManager, counting: CountingStore
) -> None:
    from policyengine.keys.cache import LookupCache

    cache = LookupCache(60, 100, lambda: 0.0, negative_ttl=60, negative_maxsize=100)
    record = counted.create(type="read-only", label="raced", environment="live").key
    before_the_read = cache.generation
    cache.invalidate(record.id)  # a change lands while the store is being read
    cache.put(b"\xab" * 32, record, before_the_read)
    cache.put(b"\xcd" * 32, None, before_the_read)
    assert cache.found(b"\xab" * 32) is None
    assert not cache.is_absent(b"\xcd" * 32)


def test_a_failing_event_sink_does_not_undo_or_hide_the_change(
    counting: CountingStore, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    def broken_sink(event: object) -> None:
        raise RuntimeError("audit log is full")

    manager = KeyManager(
        counting,
        policy_set,
        hasher=KeyHasher(SECRET),
        clock=clock,
        events=broken_sink,
        maintenance_interval=None,
    )
    issued = manager.create(type="read-only", label="audited", environment="live")
    manager.revoke(issued.key.id)
    assert manager.get(issued.key.id).state(clock.now) == "revoked"
    assert "the key event sink failed on a revoked event" in caplog.text
    manager.close()


def test_a_store_in_memory_is_asked_even_by_a_lookup_that_may_not_wait(clock: Clock) -> None:
    # It answers from a dictionary: an event loop loses nothing by asking it.
    manager = KeyManager(
        MemoryStore(), policy_set, hasher=KeyHasher(SECRET), clock=clock, maintenance_interval=None
    )
    secret = create(manager)
    manager._lookups.cache.clear()
    assert manager.lookup(secret, wait=False) is not None
    assert manager.lookup(KeyFormat("tdoc").generate("live"), wait=False) is None
    # Nor is "no such key" remembered apart: the store says it as fast.
    assert manager._lookups.cache.absent_count == 0
    manager.close()
