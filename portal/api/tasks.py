"""``/v1/tasks``: named workflows of steps, and the runs that carry them out."""

from __future__ import annotations

from fastapi import APIRouter, Response

from portal.api.deps import CallerDep, Cursor, Limit, ServicesDep
from portal.api.scopes import may_read_answer, token_scopes
from portal.http.errors import Forbidden, NotFound
from portal.models.common import Page
from portal.models.tasks import RequestStep, Run, Task, TaskFields
from portal.tasks.authority import run_scopes
from portal.tasks.shown import shown, shown_task

router = APIRouter(prefix="/v1/tasks", tags=["tasks"])


def no_task(task_id: str) -> NotFound:
    return NotFound(f"there is no task {task_id}")


@router.get("", summary="List tasks")
def list_tasks(services: ServicesDep, limit: Limit = 20, cursor: Cursor = None) -> Page[Task]:
    page = services.tasks.list(limit, cursor)
    return page.model_copy(update={"data": [shown_task(task) for task in page.data]})


@router.post("", status_code=201, summary="Create a task")
def create_task(
    fields: TaskFields, services: ServicesDep, caller: CallerDep, response: Response
) -> Task:
    """A task is a list of steps run in order: ``wait`` (a duration), ``notify`` (an event
    delivered to the hooks that subscribe to its kind), ``request`` (a call to this API
    with the authority of the key that triggers the run). A task does not change once
    created. It is answered whole this once; read back, a request step's body has its
    secrets and the credential parts of its URLs hidden, as ``/v1/hooks`` hides them."""
    task = services.tasks.create(fields, caller.key_id)
    services.tell("task.created", {"task": shown_task(task).model_dump(mode="json")})
    response.headers["Location"] = f"/v1/tasks/{task.id}"
    return task


@router.get("/{id}", summary="Get a task")
def get_task(id: str, services: ServicesDep) -> Task:
    task = services.tasks.get(id)
    if task is None:
        raise no_task(id)
    return shown_task(task)


@router.post("/{id}/runs", status_code=202, summary="Trigger a run")
def trigger_run(id: str, services: ServicesDep, caller: CallerDep, response: Response) -> Run:
    """Queues a run of the task and answers at once with it, ``queued``; poll its URL
    (the Location header) to watch it go ``running`` and end ``succeeded`` or ``failed``.
    The run's requests carry the authority of the key that triggers it, and no more; of a
    task another key wrote, no more than that key's scopes either."""
    task = services.tasks.get(id)
    if task is None:
        raise no_task(id)
    scopes = run_scopes(
        services.engine, task.created_by, caller.key_id, token_scopes(services, caller)
    )
    if scopes == () and any(isinstance(step, RequestStep) for step in task.steps):
        raise Forbidden(
            f"task {id} was written by another key, and this key holds none of its scopes: "
            "its requests could do nothing"
        )
    run = services.runs.enqueue(task, caller.key_id, scopes, caller.ip)
    services.wake_workers()
    response.headers["Location"] = f"/v1/tasks/{id}/runs/{run.id}"
    return run


@router.get("/{id}/runs/{run}", summary="Get a run")
def get_run(id: str, run: str, services: ServicesDep, caller: CallerDep) -> Run:
    """The run's state, and each step's status, timing and result. A request step's
    answer was read with the authority of the key that triggered the run: a successful
    answer's body is ``[withheld]`` unless the reader's own scopes may read what the
    request read."""
    found = services.runs.get(id, run)
    if found is None:
        raise NotFound(f"task {id} has no run {run}")
    return shown(found, lambda method, path: may_read_answer(services, caller, method, path))
