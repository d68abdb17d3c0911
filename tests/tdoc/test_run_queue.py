"""The run queue that instances share: each run is claimed by one worker, a lease that
runs out lets another take the run up, and a worker that lost its lease writes nothing;
and the hooks they register at once, which keep a key to its bound."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from portal.models.hooks import HookFields
from portal.models.tasks import StepState, TaskFields
from portal.store.database import Opened, open_database
from portal.store.hooks import MAX_HOOKS_PER_KEY, HookStore, TooManyHooks
from portal.store.runs import Claim, RunStore
from portal.store.tasks import TaskStore


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2030, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'queue.db'}"
    return str(request.getfixturevalue("postgres_url"))


def queue(url: str, runs: int, clock: Clock) -> list[str]:
    opened = open_database(url)
    try:
        task = TaskStore(opened.database, clock).create(
            TaskFields(name="t", steps=[{"type": "wait", "duration": "1s"}]),  # type: ignore[list-item]
            "key_x",
        )
        store = RunStore(opened.database, clock, shared=opened.shared)
        return [store.enqueue(task, "key_x", None, None).id for _ in range(runs)]
    finally:
        opened.close()


def test_each_run_is_claimed_by_one_worker_of_many_instances(url: str) -> None:
    clock = Clock()
    queued = queue(url, 40, clock)
    databases: list[Opened] = [open_database(url) for _ in range(4)]
    claimed: list[tuple[str, str]] = []
    lock = threading.Lock()
    # Every worker holds its first run until all have one: then all eight claim at once,
    # however the threads happen to be scheduled.
    everyone = threading.Barrier(8)

    def work(owner: str, opened: Opened) -> None:
        store = RunStore(opened.database, clock, shared=opened.shared)
        first = True
        while (claim := store.claim(owner, timedelta(minutes=5))) is not None:
            with lock:
                claimed.append((claim.run.id, owner))
            if first:
                everyone.wait(timeout=60)
                first = False

    threads = [
        threading.Thread(target=work, args=(f"worker-{n}", databases[n % 4])) for n in range(8)
    ]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    finally:
        for database in databases:
            database.close()
    ids = [run_id for run_id, _ in claimed]
    assert sorted(ids) == sorted(queued)
    assert len({owner for _, owner in claimed}) == 8


def test_a_lease_that_runs_out_lets_another_worker_take_the_run(url: str) -> None:
    clock = Clock()
    (run_id,) = queue(url, 1, clock)
    opened = open_database(url)
    try:
        store = RunStore(opened.database, clock, shared=opened.shared)
        first = store.claim("first", timedelta(seconds=30))
        assert isinstance(first, Claim)
        assert store.claim("second", timedelta(seconds=30)) is None
        clock.now += timedelta(seconds=20)
        assert store.renew(run_id, "first", timedelta(seconds=30))
        clock.now += timedelta(seconds=31)
        second = store.claim("second", timedelta(seconds=30))
        assert second is not None
        assert second.run.id == run_id
        assert second.run.attempts == 2
        # The first worker lost the run: what it writes now lands nowhere.
        assert not store.renew(run_id, "first", timedelta(seconds=30))
        assert not store.record(run_id, "first", first.run.steps)
        assert store.finish(run_id, "first", "succeeded", first.run.steps, None) is None
        done = store.finish(run_id, "second", "failed", second.run.steps, "stopped")
        assert done is not None
        assert done.state == "failed"
    finally:
        opened.close()


def claimed_steps(store: RunStore, clock: Clock, status: str) -> list[StepState]:
    """The steps of the run ``"worker"`` claims, each begun now and ``status``."""
    claim = store.claim("worker", timedelta(seconds=30))
    assert claim is not None
    return [
        step.model_copy(update={"status": status, "started_at": clock.now})
        for step in claim.run.steps
    ]


def test_a_released_run_is_queued_again_with_its_progress(url: str) -> None:
    clock = Clock()
    (run_id,) = queue(url, 1, clock)
    opened = open_database(url)
    try:
        store = RunStore(opened.database, clock, shared=opened.shared)
        steps = claimed_steps(store, clock, "pending")
        assert store.release(run_id, "worker", steps)
        again = store.claim("next", timedelta(seconds=30))
        assert again is not None
        assert again.run.steps[0].started_at == clock.now
    finally:
        opened.close()


def test_a_parked_run_is_taken_up_when_its_wait_is_over_and_not_counted_again(
    url: str,
) -> None:
    clock = Clock()
    (run_id,) = queue(url, 1, clock)
    opened = open_database(url)
    try:
        store = RunStore(opened.database, clock, shared=opened.shared)
        steps = claimed_steps(store, clock, "running")
        assert store.park(run_id, "worker", steps, clock.now + timedelta(minutes=10))
        # Parked, the run is no worker's: the one that parked it writes nothing more.
        assert not store.renew(run_id, "worker", timedelta(seconds=30))
        clock.now += timedelta(minutes=9)
        assert store.claim("other", timedelta(seconds=30)) is None
        clock.now += timedelta(minutes=2)
        resumed = store.claim("other", timedelta(seconds=30))
        assert resumed is not None
        assert resumed.run.id == run_id
        assert resumed.run.state == "running"
        assert resumed.run.attempts == 1
        assert resumed.run.steps[0].status == "running"
    finally:
        opened.close()


def test_instances_registering_hooks_at_once_keep_a_key_to_its_twenty(url: str) -> None:
    clock = Clock()
    databases: list[Opened] = [open_database(url) for _ in range(4)]
    made: list[str] = []
    refused: list[str] = []
    lock = threading.Lock()
    everyone = threading.Barrier(4)  # all count at once, however the threads are scheduled

    def register(number: int, opened: Opened) -> None:
        store = HookStore(opened.database, clock, shared=opened.shared)
        everyone.wait(timeout=60)
        for attempt in range(10):
            fields = HookFields(url=f"https://hooks.example.com/{number}/{attempt}", events=["*"])
            try:
                hook, _ = store.create(fields, "key_x")
            except TooManyHooks:
                with lock:
                    refused.append(f"{number}/{attempt}")
            else:
                with lock:
                    made.append(hook.id)

    threads = [
        threading.Thread(target=register, args=(n, databases[n])) for n in range(len(databases))
    ]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        kept = HookStore(databases[0].database, clock).list(100, None).data
    finally:
        for database in databases:
            database.close()
    assert (len(made), len(refused)) == (MAX_HOOKS_PER_KEY, 40 - MAX_HOOKS_PER_KEY)
    assert sorted(h.id for h in kept) == sorted(made)
