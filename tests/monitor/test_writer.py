"""The monitor's writer through a store that fails: an outage is waited out, a batch the
store can never take is given up so that it holds nothing back, and both are counted."""

from __future__ import annotations

from typing import Any

import pytest

from policyengine.decision import Code
from policyengine.engine import Engine
from policyengine.errors import StorageError
from policyengine.keys.pages import IssuedKey
from policyengine.monitor.writer import MAX_PENDING

from .conftest import EngineFactory
from .support import get, reader

EVERY_CODE = [code.value for code in Code]


class Failing:
    """Stands in for the store's ``write``: fails with ``error`` while ``failures`` last."""

    def __init__(self, engine: Engine, monkeypatch: pytest.MonkeyPatch, error: Exception) -> None:
        store = engine.monitor._store
        assert store is not None
        self._write = store.write
        self.error = error
        self.failures = 0
        self.tries = 0
        monkeypatch.setattr(store, "write", self)

    def __call__(self, batch: Any) -> Any:
        self.tries += 1
        if self.failures:
            self.failures -= 1
            raise self.error
        return self._write(batch)


def kept(engine: Engine, key_id: str) -> list[str]:
    return sorted(r.path or "" for r in engine.monitor.activity(key_id, code=EVERY_CODE))


def failing(
    make_engine: EngineFactory, monkeypatch: pytest.MonkeyPatch, error: Exception
) -> tuple[Engine, IssuedKey, Failing]:
    """An engine with a key, whose monitor's store is about to fail with ``error``."""
    engine = make_engine()
    issued = reader(engine)
    engine.monitor.flush(timeout=5)  # the key's creation is in the audit log
    return engine, issued, Failing(engine, monkeypatch, error)


@pytest.mark.parametrize("monitor_url", ["memory://"])
def test_records_wait_out_a_store_outage_and_are_written_once_it_is_back(
    make_engine: EngineFactory, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    engine, issued, store = failing(
        make_engine, monkeypatch, StorageError("the monitor's database is down")
    )
    store.failures = 2
    caplog.set_level("WARNING", logger="policyengine")
    for number in range(3):
        engine.check(get(issued.secret, f"/v1/events/evt_{number}"))
        engine.monitor.flush(timeout=5)
    assert store.tries >= 3
    assert kept(engine, issued.key.id) == [f"/v1/events/evt_{n}" for n in range(3)]
    assert (engine.monitor.stats().written, engine.monitor.stats().lost) == (3, 0)
    assert (
        caplog.messages.count(
            "could not write the monitor's records; will retry: the monitor's database is down"
        )
        == 2
    )


@pytest.mark.parametrize("monitor_url", ["memory://"])
def test_an_outage_that_lasts_loses_the_oldest_batches_past_the_bound_and_counts_them(
    make_engine: EngineFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine, issued, store = failing(make_engine, monkeypatch, StorageError("down"))
    store.failures = 10 * MAX_PENDING
    checks = MAX_PENDING + 5
    for number in range(checks):
        engine.check(get(issued.secret, f"/v1/events/evt_{number}"))
        engine.monitor.flush(timeout=5)  # one batch per check
    store.failures = 0
    engine.check(get(issued.secret, "/v1/events/evt_back"))  # the next batch writes them all
    engine.monitor.flush(timeout=5)
    stats = engine.monitor.stats()
    assert (stats.written, stats.lost) == (MAX_PENDING + 1, 5)
    # The newest are kept; the oldest went.
    assert kept(engine, issued.key.id) == sorted(
        ["/v1/events/evt_back", *(f"/v1/events/evt_{n}" for n in range(5, checks))]
    )


@pytest.mark.parametrize("monitor_url", ["memory://"])
def test_a_batch_the_store_can_never_take_is_given_up_and_holds_nothing_back(
    make_engine: EngineFactory, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    engine, issued, store = failing(make_engine, monkeypatch, ValueError("a value no column takes"))
    store.failures = 1
    caplog.set_level("ERROR", logger="policyengine")
    engine.check(get(issued.secret, "/v1/events/evt_refused"))
    engine.monitor.flush(timeout=5)
    engine.check(get(issued.secret, "/v1/events/evt_after"))
    engine.monitor.flush(timeout=5)
    assert kept(engine, issued.key.id) == ["/v1/events/evt_after"]
    assert (engine.monitor.stats().written, engine.monitor.stats().lost) == (1, 1)
    assert store.tries == 2  # the refused batch was not tried again
    [message] = caplog.messages
    assert message == (
        "the monitor's store refused a batch; 1 decision records and 0 audit entries in it are lost"
    )
