"""tDoc's API served for real on loopback, fresh for each use: the engine over tDoc's
policies, a SQLite store in a temporary folder, one admin key, and no hook delivered."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import uvicorn
from fastapi import FastAPI

from policyengine.engine import Engine
from policyengine.monitor.delivery_settings import DeliverySettings
from portal.app import create_app

POLICIES = Path(__file__).resolve().parents[2] / "policies"
SECRET = "samples-tests-hashing-secret-0123456789abcdef"


@dataclass(frozen=True)
class Api:
    url: str
    app: FastAPI
    admin: str


@contextmanager
def tdoc_api(directory: Path) -> Iterator[Api]:
    directory.mkdir(parents=True, exist_ok=True)
    store = f"sqlite:///{directory / 'tdoc.db'}"
    engine = Engine.from_directory(
        POLICIES,
        environment="test",
        store=store,
        secret=SECRET,
        maintenance_interval=None,
        handle_signals=False,
    )
    admin = engine.keys.create(type="full-access", label="samples", environment="test")
    app = create_app(engine, store=store, delivery=DeliverySettings(workers=0), pages=False)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("tDoc's API did not start")
        time.sleep(0.02)
    try:
        yield Api(f"http://127.0.0.1:{port}", app, admin.secret)
    finally:
        server.should_exit = True
        thread.join(10)
