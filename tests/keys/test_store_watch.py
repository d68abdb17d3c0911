"""An SQLite store's cache: records kept until their key changes, keys that no store holds
refused from memory, and other connections' changes seen at the next look."""

from __future__ import annotations

import contextlib
import sqlite3
import tempfile
import threading
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from policyengine.errors import InvalidValue, KeyRequestError, StorageError
from policyengine.keys.format import KeyFormat
from policyengine.keys.hashing import KeyHasher
from policyengine.keys.lookup import NotCached
from policyengine.keys.manager import KeyManager
from policyengine.keys.sqlite import CHANGES, SqliteStore

from .support import SECRET, Clock, CountsLookups, policy_set


class CountingSqlite(CountsLookups, SqliteStore):
    """An SQLite store that counts the reads that reach it, and can be made to fail."""

    versions = 0

    def version(self) -> int:
        self.versions += 1
        if self.down:
            raise StorageError("the store is down")
        return super().version()

    def stamp(self) -> bytes | None:
        return None if self.down else super().stamp()


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "keys.db"


@pytest.fixture
def opened(path: Path, clock: Clock):  # type: ignore[no-untyped-def]
    managers: list[KeyManager] = []

    def open_manager(store: SqliteStore | None = None, **options: object) -> KeyManager:
        manager = KeyManager(
            store or SqliteStore(path),
            policy_set,
            hasher=KeyHasher(SECRET),
            clock=clock,
            maintenance_interval=options.pop("maintenance_interval", None),  # type: ignore[arg-type]
            **options,  # type: ignore[arg-type]
        )
        managers.append(manager)
        return manager

    yield open_manager
    for manager in managers:
        manager.close()


def create(manager: KeyManager, label: str = "key") -> str:
    return manager.create(type="read-only", label=label, environment="live").secret


def unknown_keys(count: int) -> list[str]:
    key_format = KeyFormat("tdoc")
    return [key_format.generate("live") for _ in range(count)]


def state(manager: KeyManager, secret: str, clock: Clock) -> str | None:
    record = manager.lookup(secret)
    return None if record is None else record.state(clock.now)


def test_unknown_keys_are_refused_without_reading_the_store(
    path: Path, opened, clock: Clock
) -> None:
    store = CountingSqlite(path)
    server = opened(store)
    known = create(server)
    assert server.lookup(known) is not None
    reads = store.hash_lookups
    for secret in unknown_keys(2_000):
        assert server.lookup(secret) is None
    assert store.hash_lookups == reads
    # Nothing was committed meanwhile: the store was not asked for its version either.
    assert store.versions <= 2


def test_a_malformed_key_is_still_refused_as_malformed(opened) -> None:  # type: ignore[no-untyped-def]
    server = opened()
    create(server)
    bad = KeyFormat("tdoc").generate("live")[:-1] + "0"
    if KeyFormat("tdoc").is_well_formed(bad):
        bad = bad[:-1] + "1"
    with pytest.raises(InvalidValue, match="checksum"):
        server.lookup(bad)


def test_a_key_created_by_another_connection_a_moment_ago_is_found(opened, clock: Clock) -> None:
    server = opened()
    admin = opened()
    create(server)
    for secret in unknown_keys(10):  # the server has looked at the store's keys
        assert server.lookup(secret) is None
    fresh = create(admin, "made elsewhere")
    assert state(server, fresh, clock) == "active"  # no time passes: found at once


def revoked_elsewhere(opened, **options: object) -> tuple[KeyManager, KeyManager, str]:  # type: ignore[no-untyped-def]
    """A server that has cached a key, an admin on another connection, and the key's
    secret, which the admin has just revoked."""
    server = opened(**options)
    admin = opened()
    secret = create(admin)
    record = server.lookup(secret)
    assert record is not None
    admin.revoke(record.id)
    return server, admin, secret


@pytest.mark.parametrize("ttl", [3600.0, 0.5])
def test_a_revocation_by_another_connection_is_seen_at_the_next_look(
    opened, clock: Clock, ttl: float
) -> None:
    server, _, secret = revoked_elsewhere(opened, cache_ttl=ttl)
    # The store is asked what changed at most every cache_check_interval (0.1 s), however
    # long entries may be served while it cannot be asked.
    clock.advance(seconds=0.1)
    assert state(server, secret, clock) == "revoked"


def test_a_key_read_by_id_sees_another_connections_change_at_the_next_look(
    opened, clock: Clock
) -> None:
    server = opened(cache_ttl=3600.0)
    admin = opened()
    secret = create(admin)
    record = server.lookup(secret)
    assert record is not None
    assert server.lookup_id(record.id) is record  # from the cache
    admin.revoke(record.id)
    clock.advance(seconds=0.1)  # the very instant the next look is due
    again = server.lookup_id(record.id)
    assert again is not None
    assert again.state(clock.now) == "revoked"
    other = create(admin, "other")
    other_id = server.lookup(other).id  # type: ignore[union-attr]
    admin.disable(other_id)
    clock.advance(seconds=0.1)
    with pytest.raises(NotCached):  # changed since the last look: only a query can say
        server.lookup_id(other_id, wait=False)
    assert server.lookup_id(other_id).state(clock.now) == "disabled"  # type: ignore[union-attr]


def test_with_the_cache_off_every_lookup_asks_the_store(path: Path, opened) -> None:  # type: ignore[no-untyped-def]
    store = CountingSqlite(path)
    server = opened(store, cache_ttl=0)
    secret = create(server)
    unknown = unknown_keys(1)[0]
    reads = store.hash_lookups
    for _ in range(3):
        assert server.lookup(secret) is not None
        assert server.lookup(unknown) is None  # not even "no such key" is answered from memory
    assert store.hash_lookups == reads + 6
    # A store file may keep its caller waiting: a lookup that may not wait is refused.
    with pytest.raises(NotCached):
        server.lookup(secret, wait=False)
    assert store.hash_lookups == reads + 6


def test_with_no_check_interval_a_revocation_is_seen_by_the_very_next_lookup(
    opened, clock: Clock
) -> None:
    server, admin, secret = revoked_elsewhere(opened, cache_check_interval=0)
    assert state(server, secret, clock) == "revoked"
    other = create(admin, "second")
    other_id = server.lookup(other).id  # type: ignore[union-attr]
    admin.disable(other_id)
    assert state(server, other, clock) == "disabled"
    admin.enable(other_id)
    assert state(server, other, clock) == "active"


def test_entries_outlive_the_ttl_while_their_key_is_unchanged(
    path: Path, opened, clock: Clock
) -> None:
    store = CountingSqlite(path)
    server = opened(store, cache_ttl=5.0)
    secrets = [create(server, f"key {i}") for i in range(20)]
    first = [server.lookup(secret) for secret in secrets]
    reads = store.hash_lookups
    clock.advance(seconds=3600)
    again = [server.lookup(secret) for secret in secrets]
    assert store.hash_lookups == reads
    # The very records: what was worked out for them is kept too.
    assert all(a is b for a, b in zip(first, again, strict=True))


def test_last_use_written_by_another_connection_drops_nothing(
    path: Path, opened, clock: Clock
) -> None:
    store = CountingSqlite(path)
    server = opened(store, cache_check_interval=0)
    admin = opened()
    secrets = [create(admin, f"key {i}") for i in range(5)]
    for secret in secrets:
        server.lookup(secret)
    reads = store.hash_lookups
    for secret in secrets:
        admin.lookup(secret)
    admin.flush()  # another connection writes the keys' last use
    assert admin.get(admin.lookup(secrets[0]).id).last_used_at is not None  # type: ignore[union-attr]
    for secret in secrets:
        assert server.lookup(secret) is not None
    assert store.hash_lookups == reads


def test_only_the_changed_key_is_read_again(path: Path, opened, clock: Clock) -> None:
    store = CountingSqlite(path)
    server = opened(store, cache_check_interval=0)
    admin = opened()
    secrets = [create(admin, f"key {i}") for i in range(5)]
    ids = [server.lookup(secret).id for secret in secrets]  # type: ignore[union-attr]
    reads = store.hash_lookups
    admin.update(ids[2], label="renamed")
    labels = [server.lookup(secret).label for secret in secrets]  # type: ignore[union-attr]
    assert labels == ["key 0", "key 1", "renamed", "key 3", "key 4"]
    assert store.hash_lookups == reads + 1


def test_a_change_log_read_past_its_end_starts_afresh(path: Path, opened, clock: Clock) -> None:
    server, _, secret = revoked_elsewhere(opened, cache_check_interval=0)
    # The log is cut back (as it is past KEPT_CHANGES entries) before the server reads it.
    with sqlite3.connect(path) as connection:
        connection.execute(f"DELETE FROM {CHANGES}")
    assert state(server, secret, clock) == "revoked"


def test_a_key_deleted_by_hand_is_no_longer_served(path: Path, opened, clock: Clock) -> None:
    server = opened(cache_check_interval=0)
    secret = create(server)
    record = server.lookup(secret)
    assert record is not None
    with sqlite3.connect(path) as connection:
        connection.execute("DELETE FROM policyengine_keys WHERE id = ?", (record.id,))
    assert server.lookup(secret) is None


def test_an_unreadable_store_serves_cached_keys_for_the_ttl_then_fails_closed(
    path: Path, opened, clock: Clock
) -> None:
    store = CountingSqlite(path)
    server = opened(store, cache_ttl=5.0)
    secret = create(server)
    assert server.lookup(secret) is not None
    store.down = True
    clock.advance(seconds=4)
    assert server.lookup(secret) is not None  # the last look at the store is 4 s old
    with pytest.raises(StorageError):
        server.lookup(unknown_keys(1)[0])  # an unknown key must be confirmed: it cannot be
    clock.advance(seconds=1.5)
    with pytest.raises(StorageError):
        server.lookup(secret)
    store.down = False
    assert server.lookup(secret) is not None


def test_a_lookup_that_may_not_wait_asks_the_store_nothing(opened, clock: Clock) -> None:  # type: ignore[no-untyped-def]
    server = opened()
    admin = opened()
    secret = create(admin)
    unknown = unknown_keys(1)[0]
    assert server.lookup(secret) is not None
    assert server.lookup(unknown) is None
    clock.advance(seconds=0.1)  # a look at the store is due, but nothing was committed
    assert server.lookup(secret, wait=False) is not None
    assert server.lookup(unknown, wait=False) is None
    fresh = create(admin, "fresh")  # now something was: only a query can say what
    with pytest.raises(NotCached):
        server.lookup(unknown, wait=False)
    with pytest.raises(NotCached):
        server.lookup(fresh, wait=False)
    clock.advance(seconds=0.1)
    with pytest.raises(NotCached):
        server.lookup(secret, wait=False)
    assert server.lookup(fresh) is not None
    assert server.lookup(secret, wait=False) is not None


def test_the_cache_is_filled_ahead_of_lookups_newest_keys_first(
    path: Path, opened, clock: Clock
) -> None:
    admin = opened()
    secrets = []
    for i in range(30):
        secrets.append(create(admin, f"key {i}"))
        clock.advance(seconds=1)
    store = CountingSqlite(path)
    server = opened(store, cache_size=20, maintenance_interval=3600.0)
    cache = server._lookups.cache
    deadline = time.monotonic() + 10
    while len(cache) < 20:
        assert time.monotonic() < deadline, "the cache was never filled"
        time.sleep(0.01)
    for secret in secrets[10:]:
        assert server.lookup(secret) is not None
    assert store.hash_lookups == 0
    assert server.lookup(secrets[0]) is not None
    assert store.hash_lookups == 1


def test_two_threads_see_every_key_created_meanwhile(opened, clock: Clock) -> None:  # type: ignore[no-untyped-def]
    server = opened()
    admin = opened()
    create(server)
    made: list[str] = []
    missing: list[str] = []

    def spray() -> None:
        for secret in unknown_keys(3_000):
            assert server.lookup(secret, touch=False) is None

    def check_new() -> None:
        for i in range(40):
            secret = create(admin, f"new {i}")
            made.append(secret)
            if server.lookup(secret, touch=False) is None:
                missing.append(secret)

    threads = [threading.Thread(target=spray), threading.Thread(target=check_new)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert missing == []
    assert len(made) == 40


operations = st.lists(
    st.tuples(
        st.sampled_from(("create", "revoke", "disable", "enable", "rename", "look")),
        st.integers(0, 5),
    ),
    min_size=1,
    max_size=25,
)


@settings(max_examples=25, deadline=None)
@given(operations)
def test_the_cache_always_agrees_with_the_store_at_the_next_look(
    steps: list[tuple[str, int]],
) -> None:
    clock = Clock()
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "keys.db"

        def open_manager() -> KeyManager:
            return KeyManager(
                SqliteStore(path),
                policy_set,
                hasher=KeyHasher(SECRET),
                clock=clock,
                maintenance_interval=None,
            )

        with open_manager() as server, open_manager() as admin:
            secrets = [create(admin, "first")]
            for operation, index in steps:
                secret = secrets[index % len(secrets)]
                key_id = admin.lookup(secret, touch=False).id  # type: ignore[union-attr]
                now = clock.now
                with contextlib.suppress(KeyRequestError):
                    if operation == "create":
                        secrets.append(create(admin, f"key {len(secrets)}"))
                    elif operation == "revoke":
                        admin.revoke(key_id)
                    elif operation == "disable":
                        admin.disable(key_id)
                    elif operation == "enable":
                        admin.enable(key_id)
                    elif operation == "rename":
                        admin.update(key_id, label=f"renamed {index}")
                    else:
                        server.lookup(secret)  # cached as it is now
                clock.advance(seconds=0.1)
                for each in secrets:
                    seen = server.lookup(each, touch=False)
                    stored = admin.get(admin.lookup(each, touch=False).id)  # type: ignore[union-attr]
                    assert seen is not None
                    assert (seen.state(now), seen.label) == (stored.state(now), stored.label)
            for unknown in unknown_keys(5):
                assert server.lookup(unknown) is None
