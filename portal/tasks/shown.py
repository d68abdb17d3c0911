"""What a run shows of its request steps' answers to someone other than its trigger.

A request step reads with the authority of the key that triggered the run, so a
successful answer's body is the trigger's to see: another reader sees it only when its
own scopes may read what the request read, and a hook, told of the run, sees its status
alone (whoever wants the body reads the run with a key). An error's body holds the
engine's reason, nothing of the resource, and is always shown.
"""

from __future__ import annotations

from collections.abc import Callable

from portal.models.tasks import RequestStep, Run, Task
from portal.tasks.steps import WITHHELD, withhold

#: ``(method, path) → bool``: whether the reader may see what that request answered.
MayRead = Callable[[str, str], bool]


def shown(run: Run, may_read: MayRead) -> Run:
    """``run`` with every successful request's body the reader may not read withheld."""
    steps = []
    for step in run.steps:
        result = step.result
        status = None if result is None else result.get("status")
        if (
            step.type == "request"
            and result is not None
            and "body" in result
            and isinstance(status, int)
            and 200 <= status < 300
            and not may_read(str(result.get("method")), str(result.get("path")))
        ):
            step = step.model_copy(update={"result": {**result, "body": WITHHELD}})
        steps.append(step)
    return run.model_copy(update={"steps": steps})


def to_nobody(method: str, path: str) -> bool:
    return False


def shown_task(task: Task) -> Task:
    """``task`` as it is read back: the bodies of its request steps with every secret and
    every URL's credential parts hidden, as their answers are (:func:`withhold`). The task
    runs what its author wrote; readers of tasks see no more of it than ``/v1/hooks``
    shows of a hook."""
    steps = [
        step.model_copy(update={"body": withhold(step.body)})
        if isinstance(step, RequestStep) and step.body is not None
        else step
        for step in task.steps
    ]
    return task.model_copy(update={"steps": steps})
