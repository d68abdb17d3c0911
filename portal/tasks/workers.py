"""The workers that execute runs, inside the serving process.

Each worker claims a run from the shared queue, renews its lease while the run goes on,
and claims the next. A trigger on this instance wakes an idle worker at once; work queued
by other instances is found by polling. On shutdown the workers stop at the next step
boundary (a wait is cut short) and hand their runs back to the queue, resumable.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
from datetime import timedelta

import anyio
import anyio.abc
import anyio.to_thread

from policyengine.errors import StorageError
from portal.store.runs import Claim, RunStore
from portal.tasks.runner import LeaseLost, Runner

log = logging.getLogger("portal.tasks")


class _Signals:
    """What the workers of one serving event loop listen to; made inside that loop."""

    def __init__(self) -> None:
        self.stopping = anyio.Event()
        self.wake = anyio.Event()

    def rearm(self, seen: anyio.Event) -> None:
        if seen.is_set() and self.wake is seen:
            self.wake = anyio.Event()


class Workers:
    def __init__(
        self,
        runs: RunStore,
        runner: Runner,
        *,
        concurrency: int = 4,
        lease: float = 30.0,
        poll: float = 0.5,
    ) -> None:
        self._runs = runs
        self._runner = runner
        self._concurrency = concurrency
        self._lease = timedelta(seconds=lease)
        self._poll = poll
        #: Names this process in the leases it takes.
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
        self._signals: _Signals | None = None
        self._group: anyio.abc.TaskGroup | None = None

    async def __aenter__(self) -> Workers:
        signals = self._signals = _Signals()
        self._group = anyio.create_task_group()
        await self._group.__aenter__()
        for number in range(self._concurrency):
            self._group.start_soon(self._work, number, signals)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        """Stop: runs in progress are handed back at their next step boundary."""
        if self._signals is not None:
            self._signals.stopping.set()
            self._signals.wake.set()
        group, self._group = self._group, None
        if group is not None:
            await group.__aexit__(None, None, None)

    def wake(self) -> None:
        """A run was queued here: let an idle worker look now."""
        if self._signals is not None:
            self._signals.wake.set()

    async def _work(self, number: int, signals: _Signals) -> None:
        while not signals.stopping.is_set():
            try:
                claim = await anyio.to_thread.run_sync(self._runs.claim, self.owner, self._lease)
            except StorageError as error:
                log.warning("worker %s cannot reach the run queue: %s", number, error)
                claim = None
            if claim is None:
                wake = signals.wake
                with anyio.move_on_after(self._poll):
                    await wake.wait()
                signals.rearm(wake)
                continue
            await self._execute(claim, signals.stopping)

    async def _execute(self, claim: Claim, stopping: anyio.Event) -> None:
        async with anyio.create_task_group() as group:
            group.start_soon(self._keep_lease, claim, group.cancel_scope)
            try:
                await self._runner.execute(claim, self.owner, stopping)
            except LeaseLost:
                log.warning("run %s was taken over by another worker", claim.run.id)
            except Exception:
                # The run stays leased; when the lease runs out any worker takes it up again.
                log.exception("run %s failed in its worker", claim.run.id)
            group.cancel_scope.cancel()

    async def _keep_lease(self, claim: Claim, scope: anyio.CancelScope) -> None:
        every = self._lease.total_seconds() / 3
        while True:
            await anyio.sleep(every)
            try:
                held = await anyio.to_thread.run_sync(
                    self._runs.renew, claim.run.id, self.owner, self._lease
                )
            except StorageError as error:
                log.warning("cannot renew the lease of run %s: %s", claim.run.id, error)
                continue
            if not held:
                log.warning("lost the lease of run %s; stopping it here", claim.run.id)
                scope.cancel()
                return
