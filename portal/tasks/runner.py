"""One claimed run, carried through its steps in order.

Each step's start, end, status and result are written as they happen, so that a poll
sees the run move. Steps that succeeded before are not run again when a run resumes; a
failed step fails the run and the steps after it are skipped. When the server stops, the
run goes back to the queue with its progress, for any instance to resume.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import anyio
import anyio.to_thread

from policyengine.engine import Engine
from policyengine.integrations.asgi import ASGIApp
from portal.models.tasks import RequestStep, Run, RunState, Step, StepState, WaitStep
from portal.store.database import Clock
from portal.store.runs import Claim, RunStore
from portal.tasks import steps
from portal.tasks.shown import shown, to_nobody
from portal.tasks.steps import Outcome, Parked, Publish, StepContext, elapsed_ms

log = logging.getLogger("portal.tasks")

#: A run picked up this many times without finishing is given up on.
MAX_ATTEMPTS = 5

StepRunner = Callable[[Step, StepState, StepContext], Awaitable[Outcome | Parked | None]]


class LeaseLost(Exception):
    """Another worker holds the run now: this one must stop touching it."""


@dataclass
class Runner:
    engine: Engine
    runs: RunStore
    clock: Clock
    publish: Publish
    app: ASGIApp | None = None

    async def execute(self, claim: Claim, owner: str, stopping: anyio.Event) -> Run | None:
        """Carry the run on from where it stands; the finished run, or ``None`` when it
        was handed back to the queue (the server is stopping) or taken by another worker."""
        states = [state.model_copy() for state in claim.run.steps]
        if claim.run.attempts > MAX_ATTEMPTS:
            why = f"the run was picked up {MAX_ATTEMPTS} times without finishing; given up"
            return await self._finish(claim, owner, "failed", states, why)
        if self.app is None:
            raise RuntimeError("the runner has no application to send requests to")
        if claim.run.attempts == 1 and not any(s.started_at for s in states):
            await self._tell("task.run.started", claim.run)
        context = StepContext(self.engine, self.app, self.publish, claim, self.clock, stopping)
        for step, state in zip(claim.steps, states, strict=True):
            if state.status == "succeeded":
                continue
            if stopping.is_set():
                await self._release(claim, owner, states)
                return None
            state.status = "running"
            state.started_at = state.started_at or self.clock()
            await self._record(claim, owner, states)
            outcome = await _run_step(step, state, context)
            if isinstance(outcome, Parked):
                await self._park(claim, owner, states, outcome)
                return None
            if outcome is None:
                state.status = "pending"
                await self._release(claim, owner, states)
                return None
            state.finished_at = self.clock()
            state.duration_ms = elapsed_ms(state.started_at, state.finished_at)
            state.result = outcome.result
            state.status = "succeeded" if outcome.succeeded else "failed"
            if not outcome.succeeded:
                for later in states[state.index + 1 :]:
                    later.status = "skipped"
                return await self._finish(claim, owner, "failed", states, outcome.error)
            await self._record(claim, owner, states)
        return await self._finish(claim, owner, "succeeded", states, None)

    async def _record(self, claim: Claim, owner: str, states: list[StepState]) -> None:
        if not await anyio.to_thread.run_sync(self.runs.record, claim.run.id, owner, states):
            raise LeaseLost(claim.run.id)

    async def _release(self, claim: Claim, owner: str, states: list[StepState]) -> None:
        await anyio.to_thread.run_sync(self.runs.release, claim.run.id, owner, states)
        log.info("run %s handed back to the queue at step %s", claim.run.id, _current(states))

    async def _park(
        self, claim: Claim, owner: str, states: list[StepState], parked: Parked
    ) -> None:
        if not await anyio.to_thread.run_sync(
            self.runs.park, claim.run.id, owner, states, parked.until
        ):
            raise LeaseLost(claim.run.id)
        log.info("run %s waits until %s at step %s", claim.run.id, parked.until, _current(states))

    async def _finish(
        self,
        claim: Claim,
        owner: str,
        state: RunState,
        states: list[StepState],
        error: str | None,
    ) -> Run | None:
        finished = await anyio.to_thread.run_sync(
            self.runs.finish, claim.run.id, owner, state, states, error
        )
        if finished is None:
            raise LeaseLost(claim.run.id)
        log.info("run %s %s%s", claim.run.id, state, f": {error}" if error else "")
        await self._tell(f"task.run.{state}", finished)
        return finished

    async def _tell(self, kind: str, run: Run) -> None:
        payload = {"run": shown(run, to_nobody).model_dump(mode="json")}
        try:
            await anyio.to_thread.run_sync(self.publish, kind, payload)
        except Exception:
            # The run's outcome stands whether or not the hooks hear of it.
            log.exception("could not tell the hooks that run %s is %s", run.id, kind)


async def _run_step(step: Step, state: StepState, context: StepContext) -> Outcome | Parked | None:
    if isinstance(step, WaitStep):
        return await steps.wait(step, state, context)
    if isinstance(step, RequestStep):
        return await steps.request(step, state, context)
    return await steps.notify(step, state, context)


def _current(states: list[StepState]) -> int:
    return next((s.index for s in states if s.status != "succeeded"), len(states))
