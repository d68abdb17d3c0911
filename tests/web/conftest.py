"""The portal's pages over a small sample application, served for real on loopback for
the browser tests."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient

from portal.web import DocsSite

from .browser import browser
from .sample_app import sample_app

# One browser for the whole session, whichever module asks for it first.
__all__ = ["browser"]

ROOT = Path(__file__).resolve().parents[2]


def built_docs(directory: Path) -> DocsSite:
    """A docs site that is already built: one page, so no test waits for Sphinx."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "index.html").write_text(
        '<!doctype html><html lang="en"><head><title>Docs</title></head>'
        "<body><main><h1>policyengine docs</h1></main></body></html>"
    )
    return DocsSite(source=directory / "no-sources", build=directory)


@pytest.fixture
def app(tmp_path: Path) -> FastAPI:
    return sample_app(built_docs(tmp_path / "docs"))


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as client:
        yield client


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Served:
    def __init__(self, app: FastAPI) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> Served:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the portal did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)


@pytest.fixture(scope="session")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """The sample application with the real docs, built by the portal as at a first start."""
    site = DocsSite(build=tmp_path_factory.mktemp("docs") / "html")
    with Served(sample_app(site)) as served:
        assert site.building or site.ready
        assert site.wait(300), site.error
        yield served
