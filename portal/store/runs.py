"""The run queue, in the database every instance shares.

A worker claims the oldest queued run, or a running one whose lease has run out (its
worker died, or it was parked for a long wait until then), and holds it by a lease that
it renews while it works. With PostgreSQL the
claim skips rows another instance is claiming (``FOR UPDATE SKIP LOCKED``), so that each
run is taken by one worker; SQLite takes its write lock for the whole claim, to the same
end. Every write about a claimed run names its worker, so that a worker that lost its
lease cannot overwrite the one that took the run over.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from pydantic import TypeAdapter

from policyengine.db import Database, Row, Run
from policyengine.keys.codec import from_micros, optional_moment, to_micros
from portal.models.tasks import Run as RunModel
from portal.models.tasks import RunState, Step, StepState, Task
from portal.store.database import Clock, new_id, written
from portal.store.tasks import get_task

_COLUMNS = (
    "id, task_id, state, steps, key_id, scopes, client_ip, created_at, started_at, "
    "finished_at, attempts, error"
)
_STATES = TypeAdapter(list[StepState])


@dataclass(frozen=True, slots=True)
class Claim:
    """A run a worker holds: its state, its task's steps, and whose authority it carries."""

    run: RunModel
    steps: list[Step]
    key_id: str
    #: The scopes the run's requests carry (the trigger's token's, narrowed to the task
    #: author's); ``None``: the trigger's key's own, when it triggered its own task.
    scopes: tuple[str, ...] | None
    client_ip: str | None


def _run(row: Row) -> RunModel:
    return RunModel(
        id=row[0],
        task_id=row[1],
        state=row[2],
        steps=_STATES.validate_json(row[3]),
        triggered_by=row[4],
        created_at=from_micros(row[7]),
        started_at=optional_moment(row[8]),
        finished_at=optional_moment(row[9]),
        attempts=row[10],
        error=row[11],
    )


def _states(steps: list[StepState]) -> str:
    return _STATES.dump_json(steps).decode()


class RunStore:
    def __init__(self, database: Database, clock: Clock, *, shared: bool = False) -> None:
        """``shared``: several transactions may claim at once (PostgreSQL), so a claim
        skips the rows others are claiming; SQLite serialises claims by itself."""
        self._db = database
        self._clock = clock
        self._skip_locked = " FOR UPDATE SKIP LOCKED" if shared else ""

    def enqueue(
        self, task: Task, key_id: str, scopes: tuple[str, ...] | None, client_ip: str | None
    ) -> RunModel:
        run_id = new_id("run")
        steps = [
            StepState(index=i, type=s.type, status="pending") for i, s in enumerate(task.steps)
        ]
        with self._db.transaction(write=True) as run:
            run(
                f"INSERT INTO tdoc_runs ({_COLUMNS}) "  # noqa: S608
                "VALUES (?, ?, 'queued', ?, ?, ?, ?, ?, NULL, NULL, 0, NULL)",
                (
                    run_id,
                    task.id,
                    _states(steps),
                    key_id,
                    None if scopes is None else json.dumps(list(scopes)),
                    client_ip,
                    to_micros(self._clock()),
                ),
            )
            return written(self._get(run, run_id), run_id)

    def get(self, task_id: str, run_id: str) -> RunModel | None:
        with self._db.transaction(write=False) as run:
            found = self._get(run, run_id)
        return found if found is not None and found.task_id == task_id else None

    def claim(self, owner: str, lease: timedelta) -> Claim | None:
        """The next run to execute, now held by ``owner`` for ``lease``; ``None`` if none."""
        now = self._clock()
        with self._db.transaction(write=True) as run:
            rows, _ = run(
                "UPDATE tdoc_runs SET state = 'running', lease_owner = ?, lease_until = ?, "  # noqa: S608
                # A parked run (running, held by no one) is resumed, not attempted again.
                "attempts = attempts + CASE WHEN state = 'running' AND lease_owner IS NULL "
                "THEN 0 ELSE 1 END, started_at = COALESCE(started_at, ?) "
                "WHERE id = (SELECT id FROM tdoc_runs WHERE state = 'queued' "
                "OR (state = 'running' AND lease_until < ?) "
                f"ORDER BY created_at, id LIMIT 1{self._skip_locked}) "
                "RETURNING id, scopes, client_ip",
                (owner, to_micros(now + lease), to_micros(now), to_micros(now)),
            )
            if not rows:
                return None
            run_id, scopes, client_ip = rows[0]
            claimed = written(self._get(run, run_id), run_id)
            task = written(get_task(run, claimed.task_id), claimed.task_id)
        return Claim(
            run=claimed,
            steps=task.steps,
            key_id=claimed.triggered_by,
            scopes=None if scopes is None else tuple(json.loads(scopes)),
            client_ip=client_ip,
        )

    def renew(self, run_id: str, owner: str, lease: timedelta) -> bool:
        """Extend ``owner``'s lease; ``False`` if it is no longer ``owner``'s run."""
        until = to_micros(self._clock() + lease)
        return self._held(
            run_id, owner, "UPDATE tdoc_runs SET lease_until = ? WHERE id = ?", (until,)
        )

    def record(self, run_id: str, owner: str, steps: list[StepState]) -> bool:
        """Save the steps' progress; ``False`` if the run is no longer ``owner``'s."""
        return self._held(
            run_id, owner, "UPDATE tdoc_runs SET steps = ? WHERE id = ?", (_states(steps),)
        )

    def finish(
        self, run_id: str, owner: str, state: RunState, steps: list[StepState], error: str | None
    ) -> RunModel | None:
        """End the run as ``succeeded`` or ``failed``; ``None`` if it is not ``owner``'s."""
        now = to_micros(self._clock())
        with self._db.transaction(write=True) as run:
            _, count = run(
                "UPDATE tdoc_runs SET state = ?, steps = ?, error = ?, finished_at = ?, "
                "lease_owner = NULL, lease_until = NULL "
                "WHERE id = ? AND lease_owner = ? AND state = 'running'",
                (state, _states(steps), error, now, run_id, owner),
            )
            return self._get(run, run_id) if count == 1 else None

    def release(self, run_id: str, owner: str, steps: list[StepState]) -> bool:
        """Give the run back to the queue, its progress kept, for any worker to resume."""
        return self._held(
            run_id,
            owner,
            "UPDATE tdoc_runs SET state = 'queued', steps = ?, lease_owner = NULL, "
            "lease_until = NULL WHERE id = ?",
            (_states(steps),),
        )

    def park(self, run_id: str, owner: str, steps: list[StepState], until: datetime) -> bool:
        """Let go of a running run until ``until`` (a long wait), its progress kept: it
        stays ``running``, held by no worker, and any worker takes it up from then on."""
        return self._held(
            run_id,
            owner,
            "UPDATE tdoc_runs SET steps = ?, lease_owner = NULL, lease_until = ? WHERE id = ?",
            (_states(steps), to_micros(until)),
        )

    def _held(self, run_id: str, owner: str, statement: str, values: tuple[object, ...]) -> bool:
        with self._db.transaction(write=True) as run:
            _, count = run(
                f"{statement} AND lease_owner = ? AND state = 'running'",
                (*values, run_id, owner),
            )
        return count == 1

    @staticmethod
    def _get(run: Run, run_id: str) -> RunModel | None:
        rows, _ = run(f"SELECT {_COLUMNS} FROM tdoc_runs WHERE id = ?", (run_id,))  # noqa: S608
        return _run(rows[0]) if rows else None
