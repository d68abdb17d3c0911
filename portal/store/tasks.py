"""Tasks in the database. A task does not change once created; its runs keep their own
progress (:mod:`portal.store.runs`)."""

from __future__ import annotations

from pydantic import TypeAdapter

from policyengine.db import Database, Row, Run
from policyengine.keys.codec import from_micros, to_micros
from portal.models.common import Page
from portal.models.tasks import Step, Task, TaskFields
from portal.store.database import Clock, new_id, written
from portal.store.paging import Listing

_COLUMNS = "id, name, description, steps, created_at, created_by"
STEPS = TypeAdapter(list[Step])


def _task(row: Row) -> Task:
    return Task(
        id=row[0],
        name=row[1],
        description=row[2],
        steps=STEPS.validate_json(row[3], context={"stored": True}),
        created_at=from_micros(row[4]),
        created_by=row[5],
    )


_TASKS = Listing("tdoc_tasks", _COLUMNS, _task, lambda t: (t.created_at, t.id))


def task_steps(fields: TaskFields | Task) -> str:
    return STEPS.dump_json(fields.steps, exclude_none=True).decode()


class TaskStore:
    def __init__(self, database: Database, clock: Clock) -> None:
        self._db = database
        self._clock = clock

    def create(self, fields: TaskFields, created_by: str) -> Task:
        task_id = new_id("tsk")
        now = to_micros(self._clock())
        with self._db.transaction(write=True) as run:
            run(
                f"INSERT INTO tdoc_tasks ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)",  # noqa: S608
                (task_id, fields.name, fields.description, task_steps(fields), now, created_by),
            )
            return written(get_task(run, task_id), task_id)

    def get(self, task_id: str) -> Task | None:
        with self._db.transaction(write=False) as run:
            return get_task(run, task_id)

    def list(self, limit: int, cursor: str | None) -> Page[Task]:
        with self._db.transaction(write=False) as run:
            return _TASKS.page(run, limit, cursor)


def get_task(run: Run, task_id: str) -> Task | None:
    rows, _ = run(f"SELECT {_COLUMNS} FROM tdoc_tasks WHERE id = ?", (task_id,))  # noqa: S608
    return _task(rows[0]) if rows else None
