"""The application: tDoc's API behind the policy engine, as one ASGI app.

Layers, outermost first: the request context (request id, a JSON 500), the engine's
middleware on every path of the API (checked against the policies' routes; denials
answered there), then FastAPI's routing, where bodies are validated and errors answered
in one shape. The portal's pages, at ``/``, need no key: they call the API with the
reader's.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from policyengine.engine import Engine
from policyengine.monitor.delivery_settings import DeliverySettings
from portal import web
from portal.api import activity, decisions, events, hooks, keys, members, tasks, tokens
from portal.hooks.notices import MONITOR_EVENTS
from portal.http import errors
from portal.http.body_limit import BodyLimit
from portal.http.context import RequestContext
from portal.http.guard import ApiGuard
from portal.http.head import HeadAsGet
from portal.http.openapi import install_openapi
from portal.services import Services
from portal.store.database import Clock, utc_now
from portal.tasks.runner import Runner
from portal.tasks.workers import Workers

ROUTERS = (
    events.router,
    members.router,
    tasks.router,
    hooks.router,
    keys.router,
    activity.router,
    decisions.router,
    tokens.router,
)


def create_app(
    engine: Engine,
    *,
    store: str,
    delivery: DeliverySettings | None = None,
    close_engine: bool = True,
    clock: Clock | None = None,
    workers: int = 4,
    lease: float = 30.0,
    poll: float = 0.5,
    pages: bool = True,
    docs: web.DocsSite | None = None,
) -> FastAPI:
    """tDoc's API over ``engine``, its data in the database at ``store`` (the key store's
    URL). ``workers`` runs execute at once in this process, each holding its run by a
    lease of ``lease`` seconds; work queued by other instances is looked for every
    ``poll`` seconds. Hooks are delivered by the delivery queue over the same database,
    with ``delivery``'s settings. With ``pages``, the portal's pages are served at ``/``
    and the documentation (``docs``, built on first start when missing) at ``/docs``. The
    application closes the engine when it shuts down, unless told not to."""
    now = clock or utc_now
    services = Services.open(engine, store, now, delivery)
    runner = Runner(engine, services.runs, now, services.notices.publish)
    pool = Workers(services.runs, runner, concurrency=workers, lease=lease, poll=poll)
    services.wake_workers = pool.wake

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        services.notices.queue.start()
        heard = engine.monitor.subscribe(services.notices.hear, MONITOR_EVENTS)
        try:
            async with pool:
                yield
        finally:
            heard.cancel()
            services.close()
            if close_engine:
                engine.close()

    app = FastAPI(
        title="tDoc API",
        version="1.0.0",
        summary="Events, task automation and integration hooks, behind policyengine.",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.state.services = services
    for router in ROUTERS:
        app.include_router(router)
    errors.install(app, union_tags=frozenset({"wait", "notify", "request"}))
    if pages:
        web.install(app, portal_config(engine), docs)
    app.add_middleware(HeadAsGet)
    app.add_middleware(BodyLimit)
    app.add_middleware(ApiGuard, engine=engine)
    app.add_middleware(RequestContext)
    install_openapi(app, engine)
    runner.app = app
    return app


def portal_config(engine: Engine) -> web.PortalConfig:
    """What the pages say about this API: its key types, environment and scopes."""
    policy = engine.policy_set()
    kinds = tuple(
        web.KeyType(
            name,
            kind.description,
            tuple(
                str(scope)
                for scope in (kind.allowed_scopes if kind.from_key else kind.scopes or ())
            ),
            own_scopes=kind.from_key,
        )
        for name, kind in policy.key_types.items()
    )
    scopes = tuple(
        f"{resource}:{action}"
        for resource, actions in sorted(policy.resources.items())
        for action in ("*", *sorted(actions))
    )
    return web.PortalConfig(key_types=kinds, environment=engine.environment, scopes=scopes)
