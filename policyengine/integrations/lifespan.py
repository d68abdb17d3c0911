"""Deciding without blocking an event loop, and closing the engine when the server stops.

A check that the engine can make from memory (:meth:`Engine.try_check`) runs inline, in
microseconds; one that would wait for the key store or a limiter across the network runs
in a worker thread, so that a slow or dead store never stalls the loop. Closing the engine
writes the last-use notes it holds (``last_used_at``) and stops its threads; it also
waits for the store, so it too runs in a worker thread.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, TypeVar

import anyio.to_thread

from policyengine.decision import Decision
from policyengine.engine import Engine
from policyengine.request import Request

App = TypeVar("App")
Lifespan = Callable[[App], AbstractAsyncContextManager[Any]]


async def decide(engine: Engine, request: Request) -> Decision:
    decision = engine.try_check(request)
    if decision is None:
        decision = await anyio.to_thread.run_sync(engine.check, request)
    return decision


async def close(engine: Engine) -> None:
    await anyio.to_thread.run_sync(engine.close)


def closing(engine: Engine, inner: Lifespan[App] | None = None) -> Lifespan[App]:
    """A lifespan (``FastAPI(lifespan=…)``, ``Starlette(lifespan=…)``) that runs ``inner``,
    if given, and then closes ``engine``."""

    @asynccontextmanager
    async def lifespan(app: App) -> AsyncIterator[Any]:
        try:
            if inner is None:
                yield None
            else:
                async with inner(app) as state:
                    yield state
        finally:
            await close(engine)

    return lifespan
