"""``policyengine serve`` in a subprocess, on a free loopback port, for tests that drive
it over real HTTP. Every wait is bounded and the process is always stopped."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from .conftest import POLICIES, SECRET

STARTUP_SECONDS = 60.0
STOP_SECONDS = 40.0
_SECRET_LINE = re.compile(r"tdoc_(test|live)_[0-9A-Za-z]{36}")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Served:
    process: subprocess.Popen[str]
    url: str
    port: int
    stdout: list[str] = field(default_factory=list)
    stderr: list[str] = field(default_factory=list)

    @property
    def admin_key(self) -> str | None:
        """The admin key the server printed on first start, if it printed one."""
        found = [line for line in self.stdout if _SECRET_LINE.fullmatch(line.strip())]
        assert len(found) <= 1, "the server printed more than one key"
        return found[0].strip() if found else None

    def client(self, key: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {key}"} if key is not None else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30.0)

    def stop(self, sig: int = signal.SIGTERM) -> int:
        """Signal the server and wait for it to exit; its exit status."""
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=STOP_SECONDS)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=STOP_SECONDS)
        return int(self.process.returncode)

    def output(self) -> str:
        return "".join(self.stdout) + "".join(self.stderr)


@contextmanager
def serve(
    directory: Path,
    *,
    store: str | None = None,
    environment: str = "test",
    limiter: str = "memory://",
    redis: str | None = None,
    policies: Path = POLICIES,
    options: tuple[str, ...] = (),
) -> Iterator[Served]:
    """A server over ``store`` (SQLite in ``directory`` by default), ready to answer."""
    port = free_port()
    store = store or f"sqlite:///{directory / 'tdoc.db'}"
    command = [
        sys.executable,
        "-m",
        "policyengine",
        "serve",
        f"--port={port}",
        f"--policies={policies}",
        f"--store={store}",
        f"--environment={environment}",
        f"--limiter={limiter}",
        "--hook-network=127.0.0.1/32",
        # The docs are the portal's business; building them would only slow these tests.
        "--no-docs-build",
    ]
    if redis is not None:
        command.append(f"--redis={redis}")
    command.extend(options)
    environ = {**os.environ, "POLICYENGINE_SECRET": SECRET, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        command,
        cwd=directory,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=environ,
    )
    served = Served(process, f"http://127.0.0.1:{port}", port)
    readers = [
        threading.Thread(target=_drain, args=(process.stdout, served.stdout), daemon=True),
        threading.Thread(target=_drain, args=(process.stderr, served.stderr), daemon=True),
    ]
    for reader in readers:
        reader.start()
    try:
        _wait_until_ready(served)
        yield served
    finally:
        served.stop()
        for reader in readers:
            reader.join(timeout=5)
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()


def _drain(stream: object, into: list[str]) -> None:
    for line in stream:  # type: ignore[attr-defined]
        into.append(line)


def _wait_until_ready(served: Served) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if served.process.poll() is not None:
            raise AssertionError(f"the server exited at start:\n{served.output()}")
        try:
            if httpx.get(f"{served.url}/openapi.json", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"the server did not answer in {STARTUP_SECONDS}s:\n{served.output()}")


def poll_run(client: httpx.Client, location: str, timeout: float = 30.0) -> dict[str, object]:
    """Poll a run until it ends, within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        run: dict[str, object] = client.get(location).json()
        if run["state"] in ("succeeded", "failed"):
            return run
        assert time.monotonic() < deadline, f"the run did not end in {timeout}s: {run}"
        time.sleep(0.1)
