"""The store protocol, the same on every backend; then what is particular to each."""

from __future__ import annotations

import sqlite3
import stat
import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from policyengine.errors import ConfigError, StorageError
from policyengine.keys.sql import MIGRATIONS, SqlStore
from policyengine.keys.store import KEY_STATES, KeyQuery, KeyStore, open_store
from policyengine.record import KeyRecord, Usage
from policyengine.units import parse_rate

T0 = datetime(2030, 1, 1, tzinfo=UTC)


def record(number: int, **changes: object) -> KeyRecord:
    base = KeyRecord(
        id=f"key_{number:020d}",
        type="read-only",
        label=f"key number {number}",
        environment="live",
        prefix="tdoc_live_",
        last4=f"{number:04d}"[-4:],
        created_at=T0 + timedelta(minutes=number),
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def full_record() -> KeyRecord:
    return record(
        7,
        expires_at=T0 + timedelta(days=30, microseconds=123),
        scopes=("events:read", "tasks/t_1:trigger"),
        allowed_ips=("203.0.113.0/24", "2001:db8::/32"),
        rate_limits={"default": parse_rate("100/minute"), "daily": parse_rate("5000/day")},
        usage=Usage(10_000, "daily"),
        metadata={"team": "data", "ticket": "OPS-1"},
        disabled=True,
        revoked_at=T0 + timedelta(days=40),
        rotated_to="key_" + "9" * 20,
        rotated_from="key_" + "8" * 20,
        lineage="key_" + "6" * 20,
        grace_until=T0 + timedelta(days=40),
        revision=3,
        end_announced=True,
    )


@pytest.fixture
def store(store_url: str) -> Iterator[KeyStore]:
    opened = open_store(store_url)
    yield opened
    opened.close()


def test_a_record_comes_back_exactly_as_it_was_stored(store: KeyStore) -> None:
    stored = full_record()
    store.insert(stored, "ab" * 32)
    assert store.get(stored.id) == stored
    found = store.get_by_hash("ab" * 32)
    assert found is not None
    assert (found.record, found.key_hash) == (stored, "ab" * 32)
    assert store.get("key_" + "0" * 20) is None
    assert store.get_by_hash("cd" * 32) is None


def test_a_second_key_with_the_same_id_or_hash_is_refused(store: KeyStore) -> None:
    store.insert(record(1), "ab" * 32)
    with pytest.raises(StorageError):
        store.insert(record(1), "cd" * 32)
    with pytest.raises(StorageError):
        store.insert(record(2), "ab" * 32)
    assert store.get(record(2).id) is None


def test_update_writes_only_over_the_revision_it_was_made_from(store: KeyStore) -> None:
    store.insert(record(1), "ab" * 32)
    assert store.update(replace(record(1), label="renamed", revision=1))
    stale = replace(record(1), label="stale write", revision=1)
    assert not store.update(stale)
    assert store.get(record(1).id) == replace(record(1), label="renamed", revision=1)
    assert not store.update(replace(record(99), revision=1))


def test_update_never_moves_last_used_at_backwards(store: KeyStore) -> None:
    store.insert(record(1), "ab" * 32)
    used = T0 + timedelta(hours=5)
    store.touch({record(1).id: used})
    store.update(replace(record(1), label="renamed", revision=1))
    assert store.get(record(1).id).last_used_at == used  # type: ignore[union-attr]


def test_touch_moves_last_used_at_forward_only(store: KeyStore) -> None:
    store.insert(record(1), "ab" * 32)
    store.insert(record(2), "cd" * 32)
    later, earlier = T0 + timedelta(hours=2), T0 + timedelta(hours=1)
    store.touch({record(1).id: later, record(2).id: earlier, "key_" + "5" * 20: later})
    store.touch({record(1).id: earlier})
    assert store.get(record(1).id).last_used_at == later  # type: ignore[union-attr]
    assert store.get(record(2).id).last_used_at == earlier  # type: ignore[union-attr]


def test_rotate_is_all_or_nothing(store: KeyStore) -> None:
    store.insert(record(1), "ab" * 32)
    retired = replace(record(1), rotated_to=record(2).id, revision=1)
    assert store.rotate(retired, record(2, rotated_from=record(1).id), "cd" * 32)
    assert store.get(record(1).id) == retired
    assert store.get_by_hash("cd" * 32) is not None
    # Made from a revision that is no longer stored: neither half is written.
    assert not store.rotate(replace(record(1), revision=1), record(3), "ef" * 32)
    assert store.get(record(3).id) is None
    assert store.get_by_hash("ef" * 32) is None


def states_at(now: datetime) -> dict[str, KeyRecord]:
    return {
        "active": record(1),
        "disabled": record(2, disabled=True),
        "revoked": record(3, revoked_at=now - timedelta(seconds=1)),
        "expired": record(4, expires_at=now),
        "rotated": record(5, rotated_to=record(1).id, revoked_at=now + timedelta(hours=1)),
    }


def test_list_filters_by_state_as_the_record_itself_judges_it(store: KeyStore) -> None:
    now = T0 + timedelta(days=1)
    for number, (state, stored) in enumerate(states_at(now).items()):
        assert stored.state(now) == state
        store.insert(stored, f"{number:064x}")
    for state in KEY_STATES:
        found = store.list(KeyQuery(now, 10, state=state))
        assert [r.state(now) for r in found] == [state]


def test_list_filters_by_environment_type_and_label(store: KeyStore) -> None:
    store.insert(record(1, label="Nightly export"), "01" * 32)
    store.insert(record(2, environment="test", prefix="tdoc_test_"), "02" * 32)
    store.insert(record(3, type="scoped", label="100%_done"), "03" * 32)
    now = T0 + timedelta(days=1)

    def ids(**filters: object) -> list[str]:
        return [r.id for r in store.list(KeyQuery(now, 10, **filters))]  # type: ignore[arg-type]

    assert ids(environment="test") == [record(2).id]
    assert ids(type="scoped") == [record(3).id]
    assert ids(label="EXPORT") == [record(1).id]
    # % and _ are matched literally, not as wildcards.
    assert ids(label="0%_") == [record(3).id]
    assert ids(label="_") == [record(3).id]
    assert ids(environment="live", type="read-only") == [record(1).id]


def test_list_pages_newest_first_from_a_position(store: KeyStore) -> None:
    for number in range(1, 8):
        store.insert(record(number), f"{number:064x}")
    now = T0 + timedelta(days=1)
    first = store.list(KeyQuery(now, 3))
    assert [r.id for r in first] == [record(n).id for n in (7, 6, 5)]
    after = (first[-1].created_at, first[-1].id)
    assert [r.id for r in store.list(KeyQuery(now, 3, after=after))] == [
        record(n).id for n in (4, 3, 2)
    ]


def test_list_can_select_keys_whose_end_is_not_yet_announced(store: KeyStore) -> None:
    now = T0 + timedelta(days=1)
    store.insert(record(1, expires_at=T0), "01" * 32)
    store.insert(record(2, expires_at=T0, end_announced=True), "02" * 32)
    found = store.list(KeyQuery(now, 10, state="expired", end_unannounced=True))
    assert [r.id for r in found] == [record(1).id]


def test_concurrent_writers_in_threads_all_land(store: KeyStore) -> None:
    def insert(number: int) -> None:
        store.insert(record(number), f"{number:064x}")

    threads = [threading.Thread(target=insert, args=(n,)) for n in range(1, 21)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(store.list(KeyQuery(T0 + timedelta(days=1), 100))) == 20


# -- the SQL backends -------------------------------------------------------------------


def test_migrations_run_once_and_record_their_version(sql_url: str) -> None:
    first = open_store(sql_url)
    assert isinstance(first, SqlStore)
    first.insert(record(1), "01" * 32)
    first.close()
    again = open_store(sql_url)
    assert isinstance(again, SqlStore)
    assert again.schema_version() == MIGRATIONS[-1].version
    assert again.get(record(1).id) == record(1)
    again.close()


def test_the_lineage_migration_gives_each_rotated_key_its_first_key(sql_url: str) -> None:
    """Keys rotated before lineages were stored continue their first key's limits."""
    store = open_store(sql_url)
    assert isinstance(store, SqlStore)
    chain = [record(1), record(2, rotated_from=record(1).id), record(3, rotated_from=record(2).id)]
    for number, key in enumerate([*chain, record(4)]):
        store.insert(key, f"{number:02d}" * 32)
    lineage = MIGRATIONS[-1]
    assert lineage.version == 3
    with store._transaction(write=True) as run:
        run("UPDATE policyengine_keys SET lineage = NULL", ())
        run("DELETE FROM policyengine_migrations WHERE version = 3", ())
        run("ALTER TABLE policyengine_keys DROP COLUMN lineage", ())
    store.close()
    migrated = open_store(sql_url)
    assert isinstance(migrated, SqlStore)
    assert migrated.schema_version() == 3
    assert [migrated.get(key.id).lineage for key in chain] == [record(1).id] * 3  # type: ignore[union-attr]
    assert migrated.get(record(4).id).lineage == record(4).id  # type: ignore[union-attr]
    migrated.close()


def test_a_store_migrated_by_a_newer_version_is_refused(sql_url: str) -> None:
    store = open_store(sql_url)
    assert isinstance(store, SqlStore)
    with store._transaction(write=True) as run:
        run(
            "INSERT INTO policyengine_migrations (component, version, name, applied_at) "
            "VALUES ('keys', 999, 'from the future', 0)",
            (),
        )
    store.close()
    with pytest.raises(StorageError, match="newer than this policyengine knows"):
        open_store(sql_url)


def test_sqlite_store_is_private_in_wal_mode_and_not_created_by_readers(tmp_path: Path) -> None:
    path = tmp_path / "keys.db"
    with pytest.raises(StorageError, match="no key store"):
        open_store(f"sqlite:///{path}", create=False)
    assert not path.exists()
    open_store(f"sqlite:///{path}").close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    with sqlite3.connect(path) as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone() == ("wal",)


def test_a_corrupt_sqlite_file_is_a_storage_error(tmp_path: Path) -> None:
    path = tmp_path / "keys.db"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StorageError, match=r"keys\.db"):
        open_store(f"sqlite:///{path}")


def test_a_closed_store_fails_with_a_storage_error(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'keys.db'}")
    store.close()
    with pytest.raises(StorageError):
        store.get(record(1).id)


def test_an_unreachable_postgresql_server_is_a_storage_error_without_the_password() -> None:
    with pytest.raises(StorageError) as raised:
        open_store("postgresql://app:hunter2@127.0.0.1:1/keys")
    assert "hunter2" not in str(raised.value)
    assert "app:***@127.0.0.1:1" in str(raised.value)


@pytest.mark.parametrize(
    "url", ["mysql://db/keys", "keys.db", "sqlite://", "sqlite:///", "memory://x"]
)
def test_an_unknown_or_malformed_store_url_is_a_configuration_error(url: str) -> None:
    with pytest.raises(ConfigError):
        open_store(url)
