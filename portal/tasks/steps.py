"""What each kind of step does. A step answers an :class:`Outcome`, or ``None`` when the
server began to stop before it finished (a wait), so that the run can resume it later."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import anyio
import anyio.to_thread
import httpx

from policyengine.engine import Engine
from policyengine.integrations.asgi import ASGIApp
from policyengine.monitor.hook_urls import redact_hook_url
from policyengine.units import parse_duration
from portal.models.tasks import (
    NotifyStep,
    RequestStep,
    StepState,
    WaitStep,
    has_dot_segment,
)
from portal.store.database import Clock
from portal.store.runs import Claim
from portal.tasks.authority import Refused, step_credential

#: A request step keeps at most this much of the body it got back.
MAX_RESULT_BYTES = 64 * 1024
#: Fields of a response that carry a secret, which a step's result never keeps.
SECRET_FIELDS = frozenset({"secret", "access_token", "token"})
WITHHELD = "[withheld]"
REQUEST_TIMEOUT_SECONDS = 30.0
#: A wait longer than this does not hold a worker: the run is handed back to the queue,
#: to be taken up when the wait is over, so that a few long waits do not stall every run.
PARK_AFTER_SECONDS = 2.0


@dataclass(frozen=True, slots=True)
class Outcome:
    succeeded: bool
    result: dict[str, Any]
    #: Why the step failed, in a line: it becomes the run's error.
    error: str | None = None


@dataclass(frozen=True, slots=True)
class Parked:
    """The step is waiting until ``until``; no worker need hold the run meanwhile."""

    until: datetime


#: Queues an event of a kind for the hooks that want it; the ids of the deliveries.
Publish = Callable[[str, Mapping[str, Any]], list[str]]


@dataclass(slots=True)
class StepContext:
    engine: Engine
    app: ASGIApp
    publish: Publish
    claim: Claim
    clock: Clock
    stopping: anyio.Event


async def wait(step: WaitStep, state: StepState, context: StepContext) -> Outcome | Parked | None:
    """Waits until ``duration`` after the step first started, across restarts; a wait
    with more than :data:`PARK_AFTER_SECONDS` left is :class:`Parked` instead."""
    seconds = parse_duration(step.duration)
    started = state.started_at or context.clock()
    until = started + timedelta(seconds=seconds)
    remaining = (until - context.clock()).total_seconds()
    if remaining > PARK_AFTER_SECONDS:
        return Parked(until)
    if remaining > 0:
        with anyio.move_on_after(remaining) as timer:
            await context.stopping.wait()
        if not timer.cancelled_caught:
            return None
    return Outcome(True, {"waited": step.duration})


async def request(step: RequestStep, state: StepState, context: StepContext) -> Outcome:
    """Calls the API as the trigger's key would, through the whole application: the
    engine checks the call, limits count it, monitoring sees it."""
    claim = context.claim
    said: dict[str, Any] = {"method": step.method, "path": step.path}
    if has_dot_segment(step.path):
        why = "the path has a '.' or '..' segment, which would send the call elsewhere"
        return Outcome(False, said, f"{step.method} {step.path}: {why}")
    try:
        token = await anyio.to_thread.run_sync(
            step_credential, context.engine, claim.key_id, claim.scopes, context.clock()
        )
    except Refused as refused:
        said.update(status=refused.code.status, decision=_decision(refused.code, refused.message))
        return Outcome(False, said, f"{step.method} {step.path}: {refused.code}: {refused.message}")
    transport = httpx.ASGITransport(app=context.app)
    # The trigger's address, or none, as the trigger had none (a server on a Unix socket):
    # never one made up here, which a network rule or allow list could take for a client.
    transport.client = (claim.client_ip, 0) if claim.client_ip else None  # type: ignore[assignment]
    headers = {
        "Authorization": f"Bearer {token}",
        "X-Request-ID": f"{claim.run.id}.{state.index}",
    }
    async with httpx.AsyncClient(
        transport=transport, base_url="http://tdoc.internal", timeout=REQUEST_TIMEOUT_SECONDS
    ) as client:
        response = await client.request(step.method, step.path, json=step.body, headers=headers)
    body = _body(response)
    said.update(status=response.status_code, body=body)
    if response.is_success:
        return Outcome(True, said)
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        said["decision"] = _decision(str(error.get("code")), str(error.get("message")))
        why = f"{error.get('code')}: {error.get('message')}"
    else:
        why = f"HTTP {response.status_code}"
    return Outcome(False, said, f"{step.method} {step.path} answered {response.status_code}, {why}")


async def notify(step: NotifyStep, state: StepState, context: StepContext) -> Outcome:
    """Queues the step's event for every hook subscribed to its kind; delivery goes on
    in the background (the hook's delivery log shows it)."""
    run = context.claim.run
    payload = {"task_id": run.task_id, "run_id": run.id, "step": state.index, "data": step.data}
    queued = await anyio.to_thread.run_sync(context.publish, step.kind, payload)
    return Outcome(True, {"kind": step.kind, "deliveries": queued})


def _decision(code: str, message: str) -> dict[str, str]:
    return {"code": str(code), "message": message}


def _body(response: httpx.Response) -> Any:
    content = response.content
    if not content:
        return None
    if len(content) > MAX_RESULT_BYTES:
        return {"truncated": True, "bytes": len(content)}
    try:
        return withhold(json.loads(content))
    except ValueError:
        return {"text": content.decode("utf-8", "replace")}


def withhold(value: Any) -> Any:
    """``value`` with every secret a response may carry (a key's, a hook's, a token)
    replaced, and every URL with the parts that could be a credential hidden (a hook's,
    as ``/v1/hooks`` reads it back, whole only in the answer that registered it), so
    that a run's result never stores one."""
    if isinstance(value, dict):
        return {k: _withheld(k, v) for k, v in value.items()}
    if isinstance(value, list):
        return [withhold(item) for item in value]
    return value


def _withheld(name: str, value: Any) -> Any:
    if isinstance(value, str):
        if name in SECRET_FIELDS:
            return WITHHELD
        if name == "url":
            return redact_hook_url(value)
    return withhold(value)


def elapsed_ms(start: datetime, end: datetime) -> float:
    return round((end - start).total_seconds() * 1000, 3)
