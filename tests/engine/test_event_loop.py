"""The integrations never wait for the key store on the event loop.

A spray of unknown keys misses the cache, and each miss asks the store; if the store is
slow or down (PostgreSQL behind a dead host waits for its connect timeout), a check run
on the loop stalls every other request it serves, health checks included.
"""

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from typing import Annotated, Any

import httpx
import pytest
from conftest import POLICIES, SECRET, RemoteLimiter
from fastapi import Depends, FastAPI
from starlette.applications import Starlette
from starlette.requests import Request as StarletteRequest
from starlette.responses import JSONResponse
from starlette.routing import Route

from policyengine.decision import Code, Decision, Step
from policyengine.engine import Engine
from policyengine.integrations.asgi import PolicyMiddleware
from policyengine.integrations.fastapi import Authorize, install
from policyengine.keys.format import KeyFormat
from policyengine.keys.hashing import KeyHasher
from policyengine.keys.manager import KeyManager
from policyengine.keys.memory import MemoryStore
from policyengine.keys.store import StoredKey
from policyengine.policy.loader import load_directory
from policyengine.request import Request

STALL = 1.5


class SlowStore(MemoryStore):
    """A store that takes ``STALL`` seconds to answer a lookup by hash, while ``slow`` is set:
    unlike the memory store it stands on, one that may keep its caller waiting."""

    in_process = False

    def __init__(self) -> None:
        super().__init__()
        self.slow = threading.Event()
        self.lookups = 0

    def get_by_hash(self, key_hash: str) -> StoredKey | None:
        self.lookups += 1
        if self.slow.is_set():
            time.sleep(STALL)
        return super().get_by_hash(key_hash)


@pytest.fixture
def store() -> SlowStore:
    return SlowStore()


@pytest.fixture
def engine(store: SlowStore) -> Iterator[Engine]:
    policy = load_directory(POLICIES)
    keys = KeyManager(store, lambda: policy, hasher=KeyHasher(SECRET), maintenance_interval=None)
    with Engine(policy, environment="live", store="memory://", keys=keys) as built:
        yield built


async def health(request: StarletteRequest) -> JSONResponse:
    return JSONResponse({"ok": True})


def middleware_app(engine: Engine) -> Any:
    async def events(request: StarletteRequest) -> JSONResponse:
        return JSONResponse({"ok": True})

    app = Starlette(routes=[Route("/v1/events", events), Route("/healthz", health)])
    return PolicyMiddleware(app, engine, exclude=["/healthz"])


def dependency_app(engine: Engine) -> Any:
    app = FastAPI()
    install(app, engine)

    @app.get("/v1/events")
    async def events(decision: Annotated[Decision, Depends(Authorize(engine))]) -> dict[str, bool]:
        return {"ok": True}

    app.add_api_route("/healthz", health)
    return app


APPS: dict[str, Callable[[Engine], Any]] = {
    "middleware": middleware_app,
    "dependency": dependency_app,
}


async def stalled_health(app: Any, unknown: list[str]) -> tuple[float, list[int]]:
    """How long ``/healthz`` takes while ``unknown`` keys wait for the store."""
    transport = httpx.ASGITransport(app=app, client=("203.0.113.9", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:

        async def timed_health() -> float:
            answer = await client.get("/healthz")
            assert answer.status_code == 200
            return time.monotonic() - started

        started = time.monotonic()
        sprayed = [
            asyncio.create_task(
                client.get("/v1/events", headers={"Authorization": f"Bearer {secret}"})
            )
            for secret in unknown
        ]
        # Asked after the spray, on the same loop: it must not queue behind the store.
        waited = await asyncio.create_task(timed_health())
        statuses = [response.status_code for response in await asyncio.gather(*sprayed)]
    return waited, statuses


@pytest.mark.parametrize("kind", APPS)
def test_unknown_keys_waiting_for_a_slow_store_do_not_stall_other_requests(
    kind: str, engine: Engine, store: SlowStore
) -> None:
    app = APPS[kind](engine)
    store.slow.set()
    unknown = [KeyFormat("tdoc").generate("live") for _ in range(4)]
    waited, statuses = asyncio.run(stalled_health(app, unknown))
    assert waited < STALL / 2, f"/healthz waited {waited:.2f}s behind the key store"
    assert statuses == [401] * 4
    assert store.lookups == 4


@pytest.mark.parametrize("kind", APPS)
def test_a_cached_key_is_decided_without_the_store(
    kind: str, engine: Engine, store: SlowStore
) -> None:
    issued = engine.keys.create(type="read-only", label="cached", environment="live")
    assert engine.check(Request(credential=issued.secret, method="GET", path="/v1/events")).allowed
    store.slow.set()
    app = APPS[kind](engine)

    async def call() -> int:
        transport = httpx.ASGITransport(app=app, client=("203.0.113.9", 50000))
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            response = await client.get(
                "/v1/events", headers={"Authorization": f"Bearer {issued.secret}"}
            )
            return response.status_code

    started = time.monotonic()
    assert asyncio.run(call()) == 200
    assert time.monotonic() - started < STALL / 2
    assert store.lookups == 1


def test_try_check_answers_from_memory_or_not_at_all(engine: Engine, store: SlowStore) -> None:
    issued = engine.keys.create(type="read-only", label="cached", environment="live")
    asked = Request(credential=issued.secret, method="GET", path="/v1/events")
    assert engine.try_check(asked) is None  # not cached yet: the store would be asked
    assert store.lookups == 0
    assert engine.check(asked).allowed
    decided = engine.try_check(asked)
    assert decided is not None
    assert decided.allowed
    unknown = Request(
        credential=KeyFormat("tdoc").generate("live"), method="GET", path="/v1/events"
    )
    assert engine.try_check(unknown) is None
    assert engine.check(unknown).code == "NOT_FOUND"
    again = engine.try_check(unknown)
    assert again is not None
    assert again.code == "NOT_FOUND"
    assert store.lookups == 2
    malformed = engine.try_check(Request(credential="tdoc_live_nope", method="GET", path="/"))
    assert malformed is not None
    assert malformed.code == "MALFORMED_CREDENTIAL"


def test_try_check_explains_and_dry_runs_as_check_does(engine: Engine) -> None:
    issued = engine.keys.create(
        type="read-only", label="cached", environment="live", rate_limit="3/minute"
    )
    asked = Request(credential=issued.secret, method="GET", path="/v1/events")
    assert engine.check(asked, dry_run=True).allowed  # the key is cached, no unit spent
    plain = engine.try_check(asked)
    assert plain is not None
    assert plain.allowed
    assert plain.trace is None
    explained = engine.try_check(asked, explain=True)
    assert explained is not None
    assert explained.allowed
    assert explained.trace is not None
    assert explained.trace[-1] == Step("rate", True, "within limits")
    for _ in range(5):
        dry = engine.try_check(asked, dry_run=True)
        assert dry is not None
        assert dry.allowed
    # Two units went to the checks that were not dry runs: one is left.
    assert [engine.check(asked).code for _ in range(2)] == [Code.OK, Code.RATE_LIMITED]


def test_try_check_leaves_a_limiter_outside_the_process_to_check(store: SlowStore) -> None:
    policy = load_directory(POLICIES)
    keys = KeyManager(store, lambda: policy, hasher=KeyHasher(SECRET), maintenance_interval=None)
    with Engine(
        policy, environment="live", store="memory://", keys=keys, limiter=RemoteLimiter()
    ) as engine:
        issued = engine.keys.create(type="read-only", label="cached", environment="live")
        asked = Request(credential=issued.secret, method="GET", path="/v1/events")
        assert engine.check(asked).allowed
        assert engine.try_check(asked) is None  # the limiter would be waited for
        refused = Request(credential=issued.secret, method="POST", path="/v1/events")
        decided = engine.try_check(refused)  # refused before the limits: nothing to wait for
        assert decided is not None
        assert decided.code is Code.INSUFFICIENT_SCOPE
