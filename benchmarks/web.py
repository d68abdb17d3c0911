"""FastAPI requests per second: unprotected, protected by the dependency, protected by
the middleware. Each is served by uvicorn in a process of its own on loopback; the load
comes from Debian's ``wrk`` (or, without it, a bounded async ``httpx`` client in this
process), one server at a time, alternating between them round after round so that all
three share the same time window. Any answer other than 200 spoils a round, so a
protected server cannot look fast by refusing.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx

from benchmarks.fixtures import ROOT, SECRET, BenchmarkError, free_port, issue
from benchmarks.harness import Run
from benchmarks.report import Table, times
from benchmarks.server import MODES
from benchmarks.timing import Sample, ratio
from policyengine import Engine
from policyengine.policy.loader import load_directory

CONNECTIONS = 8
PATH = "/v1/events"


def parse_wrk(output: str) -> tuple[float, int]:
    """Requests per second and the count of answers other than 2xx/3xx, from wrk's report."""
    found = re.search(r"Requests/sec:\s+([\d.]+)", output)
    if found is None:
        raise BenchmarkError(f"wrk printed no Requests/sec: {output[-300:]}")
    failed = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    errors = re.search(r"Socket errors:.*?(\d+).*?(\d+).*?(\d+).*?(\d+)", output)
    bad = int(failed.group(1)) if failed else 0
    if errors:
        bad += sum(int(n) for n in errors.groups())
    return float(found.group(1)), bad


def _wrk(url: str, key: str, seconds: float) -> float:
    done = subprocess.run(
        [
            "wrk",
            "-t1",
            f"-c{CONNECTIONS}",
            f"-d{max(1, round(seconds))}s",
            "-H",
            f"Authorization: Bearer {key}",
            url + PATH,
        ],
        capture_output=True,
        text=True,
        timeout=seconds + 60,
        check=False,
    )
    rate, bad = parse_wrk(done.stdout)
    if bad:
        raise BenchmarkError(f"{bad} requests to {url} failed or were refused under load")
    return rate


def _httpx_load(url: str, key: str, seconds: float, limit: int = 200_000) -> float:
    """Requests per second from CONNECTIONS concurrent clients, for ``seconds`` at most and
    ``limit`` requests at most."""

    async def load() -> float:
        sent = 0
        headers = {"Authorization": f"Bearer {key}"}
        async with httpx.AsyncClient(base_url=url, headers=headers) as client:
            deadline = time.perf_counter() + seconds
            started = time.perf_counter()

            async def worker() -> None:
                nonlocal sent
                while time.perf_counter() < deadline and sent < limit:
                    sent += 1
                    answer = await client.get(PATH)
                    if answer.status_code != 200:
                        raise BenchmarkError(f"{url} answered {answer.status_code} under load")

            await asyncio.gather(*(worker() for _ in range(CONNECTIONS)))
            return sent / (time.perf_counter() - started)

    return asyncio.run(load())


def _start(mode: str, store: str, port: int, logs: Path) -> subprocess.Popen[bytes]:
    log = (logs / f"server-{mode}.log").open("wb")
    return subprocess.Popen(
        [sys.executable, "-m", "benchmarks.server", mode, str(port), store],
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "POLICYENGINE_SECRET": SECRET},
    )


def _ready(url: str, key: str, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise BenchmarkError(f"the server for {url} stopped with status {server.returncode}")
        try:
            answer = httpx.get(url + PATH, headers={"Authorization": f"Bearer {key}"}, timeout=2)
        except httpx.HTTPError:
            time.sleep(0.2)
            continue
        if answer.status_code != 200:
            raise BenchmarkError(f"{url} answered {answer.status_code}: {answer.text[:200]}")
        return
    raise BenchmarkError(f"{url} did not answer within 60 s")


def run(current: Run) -> None:
    report = current.report
    if current.quick:
        report.skip("FastAPI req/s: skipped in quick mode (it needs seconds of load per server)")
        return
    store = f"sqlite:///{current.workdir / 'http.db'}"
    with Engine(
        load_directory(ROOT / "policies"), environment="live", store=store, secret=SECRET
    ) as maker:
        key = issue(maker, allowed_ips=["127.0.0.0/8"])
    wrk = shutil.which("wrk") is not None
    load = _wrk if wrk else _httpx_load
    tool = (
        f"wrk, 1 thread, {CONNECTIONS} connections"
        if wrk
        else f"async httpx, {CONNECTIONS} concurrent requests"
    )
    if not wrk:
        report.skip("wrk is not installed (apt-get install -y wrk): loaded by async httpx instead")
    urls = {mode: f"http://127.0.0.1:{free_port()}" for mode in MODES}
    servers = {
        mode: _start(mode, store, int(urls[mode].rsplit(":", 1)[1]), current.workdir)
        for mode in MODES
    }
    rates: dict[str, list[float]] = {mode: [] for mode in MODES}
    seconds = current.scale.http_seconds
    try:
        for mode in MODES:
            _ready(urls[mode], key, servers[mode])
            load(urls[mode], key, 1.0)  # warm-up
        for round_ in range(current.scale.http_rounds):
            order = list(MODES[round_ % 3 :] + MODES[: round_ % 3])
            for mode in order:
                rates[mode].append(load(urls[mode], key, seconds))
            current.log(
                f"  round {round_ + 1}: " + ", ".join(f"{m} {rates[m][-1]:.0f}/s" for m in MODES)
            )
    finally:
        for server in servers.values():
            server.terminate()
        for server in servers.values():
            server.wait(timeout=10)
    samples = {mode: Sample(tuple(values)) for mode, values in rates.items()}
    table = Table(
        f"FastAPI `GET /v1/events` served by uvicorn, loaded by {tool}, "
        f"{seconds:.0f} s per server and round",
        ("application", "requests per second", "÷ unprotected"),
    )
    shares = {}
    for mode, sample in samples.items():
        share = ratio(sample, samples["plain"])
        shares[mode] = share
        table.add(mode, f"{sample.median:,.0f} ±{sample.spread * 100:.0f}%", times(share))
    report.tables.append(table)
    report.data["http"] = {
        mode: {"median": s.median, "quartiles": s.quartiles} for mode, s in samples.items()
    }
    dependency, middleware = shares["dependency"], shares["middleware"]
    report.goal(
        "http",
        f"{dependency.median:.2f} / {middleware.median:.2f} "
        f"({samples['plain'].median:,.0f} req/s unprotected)",
        dependency.median >= 0.9 and middleware.median >= 0.9,
    )
