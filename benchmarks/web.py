"""FastAPI requests per second: unprotected, protected by the dependency, protected by
the middleware. Each is served by uvicorn in a process of its own on loopback; the load
comes from Debian's ``wrk`` (or, without it, a bounded async ``httpx`` client in this
process), one server at a time, alternating between them round after round so that all
three share the same time window. Any answer other than 200 spoils a round, so a
protected server cannot look fast by refusing.

Beside the requests per second, each round reads the CPU time the server process spent
(all its threads, the monitor's writer too, from ``/proc``) per request answered. A
saturated server with a core of its own answers ``1 / CPU per request`` each second, so
the ratio of those is what the ratio of requests per second would be on an idle machine;
on a shared one, requests per second also measure whoever else wanted the cores.
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
from benchmarks.report import Table, micro, timed, times
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


def parse_requests(output: str) -> int:
    """The count of requests answered, from wrk's report."""
    found = re.search(r"(\d+) requests in", output)
    if found is None:
        raise BenchmarkError(f"wrk printed no request count: {output[-300:]}")
    return int(found.group(1))


def cpu_seconds(pid: int) -> float | None:
    """The CPU time (user and system, every thread) process ``pid`` has used so far;
    ``None`` where there is no ``/proc``."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # After the command name, in parentheses: state is field 3; utime and stime 14 and 15.
    fields = stat.rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _wrk(url: str, key: str, seconds: float) -> tuple[float, int]:
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
    return rate, parse_requests(done.stdout)


def _httpx_load(url: str, key: str, seconds: float, limit: int = 200_000) -> tuple[float, int]:
    """Requests per second from CONNECTIONS concurrent clients, for ``seconds`` at most and
    ``limit`` requests at most, and the count of requests."""

    async def load() -> tuple[float, int]:
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
            return sent / (time.perf_counter() - started), sent

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
    cpu: dict[str, list[float]] = {mode: [] for mode in MODES}
    seconds = current.scale.http_seconds
    try:
        for mode in MODES:
            _ready(urls[mode], key, servers[mode])
            load(urls[mode], key, 1.0)  # warm-up
        for round_ in range(current.scale.http_rounds):
            turn = round_ % len(MODES)
            order = list(MODES[turn:] + MODES[:turn])
            for mode in order:
                pid = servers[mode].pid
                before = cpu_seconds(pid)
                rate, answered = load(urls[mode], key, seconds)
                after = cpu_seconds(pid)
                rates[mode].append(rate)
                if before is not None and after is not None and answered:
                    cpu[mode].append((after - before) / answered)
            current.log(
                f"  round {round_ + 1}: "
                + ", ".join(
                    f"{m} {rates[m][-1]:.0f}/s"
                    + (f" ({cpu[m][-1] * 1e6:.0f} µs CPU)" if cpu[m] else "")
                    for m in MODES
                )
            )
    finally:
        for server in servers.values():
            server.terminate()
        for server in servers.values():
            server.wait(timeout=10)
    samples = {mode: Sample(tuple(values)) for mode, values in rates.items()}
    measured_cpu = all(len(cpu[mode]) == len(rates[mode]) for mode in MODES)
    columns: tuple[str, ...] = ("application", "requests per second", "÷ unprotected")
    if measured_cpu:
        columns += ("server CPU per request", "unprotected ÷ this")
    table = Table(
        f"FastAPI `GET /v1/events` served by uvicorn, loaded by {tool}, "
        f"{seconds:.0f} s per server and round",
        columns,
    )
    shares = {mode: ratio(sample, samples["plain"]) for mode, sample in samples.items()}
    costs = {mode: Sample(tuple(cpu[mode])) for mode in MODES} if measured_cpu else {}
    # Requests per second a server with a core of its own would answer, relative to the
    # unprotected one's: the inverse ratio of CPU per request.
    cpu_shares = {mode: ratio(costs["plain"], cost) for mode, cost in costs.items()}
    for mode, sample in samples.items():
        label = "middleware, monitoring off" if mode == "unmonitored" else mode
        row = [label, f"{sample.median:,.0f} ±{sample.spread * 100:.0f}%", times(shares[mode])]
        if measured_cpu:
            row += [timed(costs[mode]), times(cpu_shares[mode])]
        table.add(*row)
    if measured_cpu:
        table.notes.append(
            "Server CPU per request is the CPU time of the server process (every thread, the "
            "monitor's writer too) per request answered. A saturated server with a core to "
            "itself answers 1 ÷ that per second, so the last column is the requests-per-"
            "second ratio without the machine's other load; the goal is judged on it."
        )
    table.notes.append(
        "The dependency and the middleware run with the default monitor, which records "
        "every decision (SQLite beside the key store) in a writer thread of the same "
        "process; the last row, not judged, is the middleware with monitoring off."
    )
    report.tables.append(table)
    report.data["http"] = {
        mode: {"median": s.median, "quartiles": s.quartiles} for mode, s in samples.items()
    }
    if measured_cpu:
        report.data["http_cpu"] = {
            mode: {"median": s.median, "quartiles": s.quartiles} for mode, s in costs.items()
        }
    dependency, middleware = shares["dependency"], shares["middleware"]
    measured = (
        f"{dependency.median:.2f} / {middleware.median:.2f} "
        f"({samples['plain'].median:,.0f} req/s unprotected)"
    )
    judged = (dependency.median, middleware.median)
    if measured_cpu:
        judged = (cpu_shares["dependency"].median, cpu_shares["middleware"].median)
        measured = (
            f"{judged[0]:.2f} / {judged[1]:.2f} by server CPU per request "
            f"({micro(costs['plain'].median)} unprotected); {measured}"
        )
    report.goal("http", measured, min(judged) >= 0.9)
