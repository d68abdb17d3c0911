"""What ``policyengine serve`` runs: the engine, the application over it, an admin key on
first start, and uvicorn, which shuts down gracefully on SIGTERM and SIGINT.

On a signal uvicorn stops accepting connections and lets the requests in flight finish;
then the application's shutdown stops the run workers (handing their runs back to the
queue), closes the delivery queue, and closes the engine, which writes the keys'
last-use notes and what monitoring still holds.
"""

from __future__ import annotations

import socket
import sys
from dataclasses import dataclass
from typing import TextIO

import uvicorn

from policyengine.engine import Engine
from policyengine.errors import ConfigError
from policyengine.monitor.delivery_settings import DeliverySettings
from portal.admin import announcement, first_admin_key
from portal.app import create_app
from portal.store.database import utc_now
from portal.web import DocsSite

#: Seconds in-flight requests get to finish once a signal arrives.
GRACEFUL_SHUTDOWN_SECONDS = 30


@dataclass(frozen=True, slots=True)
class ServeOptions:
    store: str
    host: str = "127.0.0.1"
    port: int = 8000
    policies: str = "policies"
    limiter: str = "memory://"
    environment: str = "test"
    redis: str | None = None
    #: Where decisions, usage, alerts and the audit log are kept (beside the key store).
    monitor: str | None = None
    #: Private networks hooks may deliver to (by default only public addresses).
    hook_networks: tuple[str, ...] = ()
    #: Networks of the proxies in front, whose forwarding header is believed.
    trusted_proxies: tuple[str, ...] = ()
    #: The one header those proxies write: ``x-forwarded-for`` or ``forwarded``.
    forwarded_header: str = "x-forwarded-for"
    #: Build the documentation at start when it is missing or stale.
    build_docs: bool = True


class BuiltDocs(DocsSite):
    """The documentation as already built: served if there, never built."""

    def ensure(self) -> None:
        return


def serve(options: ServeOptions, out: TextIO = sys.stdout) -> int:
    """Serve until a signal; the exit status (0 after a clean shutdown)."""
    engine = Engine.from_directory(
        options.policies,
        environment=options.environment,
        store=options.store,
        limiter=options.limiter,
        redis=options.redis,
        monitor=options.monitor,
        trusted_proxies=options.trusted_proxies,
        forwarded_header=options.forwarded_header,
        # uvicorn owns the signals; the application's shutdown flushes and closes.
        handle_signals=False,
    )
    try:
        delivery = DeliverySettings(allow=options.hook_networks)
        docs = DocsSite() if options.build_docs else BuiltDocs()
        app = create_app(engine, store=options.store, delivery=delivery, docs=docs)
        # Listening first: a server that cannot start prints no admin key it would lose.
        sock = listen(options.host, options.port)
        issued = first_admin_key(engine, app.state.services.database, utc_now)
    except BaseException:
        engine.close()
        raise
    if issued is not None:
        out.write(announcement(issued))
        out.flush()
    config = uvicorn.Config(
        app,
        host=options.host,
        port=options.port,
        lifespan="on",
        # The engine alone decides which forwarding headers to believe (trusted proxies).
        proxy_headers=False,
        server_header=False,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
        log_level="info",
    )
    server = uvicorn.Server(config)
    server.run(sockets=[sock])
    return 0 if server.started else 1


def listen(host: str, port: int) -> socket.socket:
    """A socket bound to ``host:port``, or :class:`ConfigError` saying why not."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as error:
        sock.close()
        raise ConfigError(f"cannot listen on {host}:{port}: {error.strerror or error}") from None
    return sock
