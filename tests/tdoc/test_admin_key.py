"""The first start on an empty store makes one admin key, and no start after it does."""

from __future__ import annotations

import threading
from pathlib import Path

from policyengine.engine import Engine
from portal.admin import LABEL, announcement, first_admin_key
from portal.store.database import open_database, utc_now

from .conftest import POLICIES, SECRET


def engine_over(url: str) -> Engine:
    return Engine.from_directory(
        POLICIES,
        environment="test",
        store=url,
        secret=SECRET,
        maintenance_interval=None,
        handle_signals=False,
    )


def test_an_empty_store_gets_one_full_access_key_once(store_url: str) -> None:
    engine, database = engine_over(store_url), open_database(store_url).database
    try:
        issued = first_admin_key(engine, database, utc_now)
        assert issued is not None
        assert issued.key.type == "full-access"
        assert issued.key.label == LABEL
        assert engine.keys.lookup(issued.secret) is not None
        text = announcement(issued)
        assert text.splitlines()[-1] == issued.secret
        assert "admin key" in text.splitlines()[0]
        engine.keys.revoke(issued.key.id)
        assert first_admin_key(engine, database, utc_now) is None
    finally:
        database.close()
        engine.close()


def test_a_store_that_already_holds_keys_gets_none(store_url: str) -> None:
    engine, database = engine_over(store_url), open_database(store_url).database
    try:
        engine.keys.create(type="read-only", label="made before", environment="test")
        assert first_admin_key(engine, database, utc_now) is None
        assert len(engine.keys.list()) == 1
    finally:
        database.close()
        engine.close()


def test_instances_starting_together_make_one_key(postgres_url: str, tmp_path: Path) -> None:
    made: list[object] = []
    ready = threading.Barrier(4)

    def start() -> None:
        engine, database = engine_over(postgres_url), open_database(postgres_url).database
        try:
            ready.wait()
            made.append(first_admin_key(engine, database, utc_now))
        finally:
            database.close()
            engine.close()

    threads = [threading.Thread(target=start) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len([issued for issued in made if issued is not None]) == 1
    engine = engine_over(postgres_url)
    try:
        assert len(engine.keys.list()) == 1
    finally:
        engine.close()
