"""Tasks, the workflows of steps they run, and their runs.

A step is one of ``wait`` (a duration), ``notify`` (an event delivered to the hooks that
subscribe to its kind) and ``request`` (a call to tDoc's API made with the authority of
the key that triggered the run).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from policyengine.errors import InvalidValue
from policyengine.units import format_duration, parse_duration
from portal.models.common import Body, Description, Duration, Name

#: The longest a ``wait`` step may wait.
MAX_WAIT_SECONDS = 3600.0
MAX_STEPS = 20
#: Kinds of event a ``notify`` step may send: its own, under ``task.``.
NOTIFY_KIND = r"^task(\.[a-z][a-z0-9_]*){1,3}$"
#: Kinds the server itself sends about runs, which a task may not imitate.
RESERVED_KINDS = frozenset(
    {"task.created", "task.run.queued", "task.run.started", "task.run.succeeded", "task.run.failed"}
)
#: A call a request step makes: a path of tDoc's API, with no query.
API_PATH = r"^/v1(/[A-Za-z0-9._~-]+)+$"
_TRIGGER = re.compile(r"^/v1/tasks/[^/]+/runs$")


class WaitStep(Body):
    type: Literal["wait"]
    duration: Duration = Field(description="How long to wait, such as 30s or 5m (at most 1h).")

    @field_validator("duration")
    @classmethod
    def _duration(cls, value: str) -> str:
        try:
            seconds = parse_duration(value)
        except InvalidValue as error:
            raise ValueError(str(error)) from None
        if seconds > MAX_WAIT_SECONDS:
            raise ValueError(f"a wait step waits at most {format_duration(MAX_WAIT_SECONDS)}")
        return value


class NotifyStep(Body):
    type: Literal["notify"]
    kind: str = Field(
        default="task.run.notification",
        pattern=NOTIFY_KIND,
        description="The event kind delivered, under task.; hooks subscribed to it get it.",
    )
    data: dict[str, Any] = Field(
        default_factory=dict, description="What the event carries, besides the run."
    )

    @field_validator("kind")
    @classmethod
    def _own_kind(cls, value: str) -> str:
        if value in RESERVED_KINDS:
            raise ValueError(f"{value} is sent by the server itself; choose another kind")
        return value


class RequestStep(Body):
    type: Literal["request"]
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"]
    path: str = Field(pattern=API_PATH, max_length=512, description="A path of tDoc's API.")
    body: dict[str, Any] | None = Field(default=None, description="A JSON body to send.")

    @field_validator("path")
    @classmethod
    def _no_trigger(cls, value: str, info: Any) -> str:
        # A task read back from the store keeps loading; its run refuses the step instead.
        stored = isinstance(info.context, dict) and info.context.get("stored")
        if has_dot_segment(value) and not stored:
            raise ValueError("a path has no '.' or '..' segment: write the path it stands for")
        if info.data.get("method") == "POST" and _TRIGGER.match(value):
            raise ValueError("a task cannot trigger runs: a run could otherwise start itself")
        return value


def has_dot_segment(path: str) -> bool:
    """Whether ``path`` holds a ``.`` or ``..`` segment. The call a request step makes
    resolves them before the engine sees the path, so such a path would reach a route
    other than the one written (``/v1/tasks/x/../tsk_1/runs`` triggers a run)."""
    return any(segment in (".", "..") for segment in path.split("/"))


Step = Annotated[WaitStep | NotifyStep | RequestStep, Field(discriminator="type")]

_STEPS_EXAMPLE: Any = [
    {"type": "request", "method": "GET", "path": "/v1/events"},
    {"type": "wait", "duration": "2s"},
    {"type": "notify", "kind": "task.run.notification", "data": {"message": "events checked"}},
]


class TaskFields(Body):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "Nightly check",
                    "description": "Reads the events, waits, and tells the hooks.",
                    "steps": _STEPS_EXAMPLE,
                }
            ]
        }
    )

    name: Name
    description: Description = ""
    steps: list[Step] = Field(min_length=1, max_length=MAX_STEPS)


class Task(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "tsk_9WmR2xKc7TqL4bZp1NvY",
                    "name": "Nightly check",
                    "description": "Reads the events, waits, and tells the hooks.",
                    "steps": _STEPS_EXAMPLE,
                    "created_at": "2026-01-12T10:15:00Z",
                    "created_by": "key_7Hc2LmP9qRt4VwX1yZ3a",
                }
            ]
        }
    )

    id: str
    name: str
    description: str
    steps: list[Step]
    created_at: datetime
    created_by: str


RunState = Literal["queued", "running", "succeeded", "failed"]
StepStatus = Literal["pending", "running", "succeeded", "failed", "skipped"]


class StepState(BaseModel):
    index: int
    type: Literal["wait", "notify", "request"]
    status: StepStatus
    started_at: datetime | None = None
    finished_at: datetime | None = None
    duration_ms: float | None = Field(default=None, description="How long the step took.")
    result: dict[str, Any] | None = Field(
        default=None,
        description="What the step did: a request's status and body (secrets withheld), "
        "the hooks notified, or the time waited.",
    )


class Run(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "run_3fHq8ZmW1cXv6TbR9kLp",
                    "task_id": "tsk_9WmR2xKc7TqL4bZp1NvY",
                    "state": "running",
                    "triggered_by": "key_7Hc2LmP9qRt4VwX1yZ3a",
                    "created_at": "2026-01-12T10:16:00Z",
                    "started_at": "2026-01-12T10:16:00.05Z",
                    "finished_at": None,
                    "attempts": 1,
                    "error": None,
                    "steps": [
                        {
                            "index": 0,
                            "type": "request",
                            "status": "succeeded",
                            "started_at": "2026-01-12T10:16:00.05Z",
                            "finished_at": "2026-01-12T10:16:00.07Z",
                            "duration_ms": 20.0,
                            "result": {"status": 200, "body": {"data": [], "next_cursor": None}},
                        },
                        {"index": 1, "type": "wait", "status": "running"},
                        {"index": 2, "type": "notify", "status": "pending"},
                    ],
                }
            ]
        }
    )

    id: str
    task_id: str
    state: RunState
    triggered_by: str = Field(description="The key whose authority the run's requests carry.")
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    attempts: int = Field(description="How many times a worker has picked the run up.")
    error: str | None = Field(description="Why the run failed, when it did.")
    steps: list[StepState]
