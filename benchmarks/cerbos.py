"""Cerbos, as a Python service uses it: a policy decision server on loopback, asked over
HTTP for each request, by its Python SDK (``cerbos``) and by a bare keep-alive ``httpx``
POST (the floor of the SDK).

The server binary comes from the npm package ``cerbos``, which ships it in a package per
platform (``@cerbos/cerbos-linux-x64`` …). It is found by ``--cerbos PATH``, ``$CERBOS_BIN``
or ``cerbos`` on the PATH, else installed once with npm into ``benchmarks/.cache``.
The server runs with telemetry off and listens on 127.0.0.1 only.
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import time
from functools import partial
from pathlib import Path

import httpx

from benchmarks.fixtures import INSIDE, NETWORK, OUTSIDE, Keyring, expect, free_port, request
from benchmarks.harness import Run
from benchmarks.peers import grants, role_scopes, routes
from benchmarks.report import Table, micro, timed, times
from benchmarks.timing import interleaved, ratio
from policyengine import Code

VERSION = "0.51.0"
CACHE = Path(__file__).resolve().parent / ".cache" / "cerbos"
SDK = "Cerbos over HTTP, Python SDK `is_allowed`"
RAW = "Cerbos over HTTP, bare `httpx` POST"
ENGINE = "engine.check (in process)"


def find_binary(given: str) -> Path:
    """The cerbos server binary; raises ``RuntimeError`` saying why it cannot be had."""
    if given != "auto":
        return Path(given)
    named = os.environ.get("CERBOS_BIN") or shutil.which("cerbos")
    if named:
        return Path(named)
    system = {"Linux": "linux", "Darwin": "darwin"}.get(platform.system())
    machine = {"x86_64": "x64", "AMD64": "x64", "aarch64": "arm64", "arm64": "arm64"}.get(
        platform.machine()
    )
    if system is None or machine is None:
        raise RuntimeError(f"the npm package cerbos ships no binary for {platform.platform()}")
    binary = (
        CACHE
        / "node_modules"
        / "@cerbos"
        / f"cerbos-{system}-{machine}"
        / f"cerbos-{system}-{machine}"
    )
    if not binary.exists():
        npm = shutil.which("npm")
        if npm is None:
            raise RuntimeError("npm is not installed, so the npm package cerbos cannot be had")
        CACHE.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(
            [
                npm,
                "install",
                "--prefix",
                str(CACHE),
                "--no-audit",
                "--no-fund",
                f"cerbos@{VERSION}",
            ],
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        if done.returncode != 0 or not binary.exists():
            raise RuntimeError(f"npm install cerbos@{VERSION} failed: {done.stderr.strip()[-300:]}")
    return binary


def _policy(kind: str, actions: dict[str, set[str]]) -> str:
    """A resource policy for ``kind``: roles may do their actions, from the key's network,
    with a live, unrevoked, unexpired key; the live-write rule denies."""
    allow = (
        "      condition:\n        match:\n          all:\n            of:\n"
        '              - expr: P.attr.environment == "live"\n'
        '              - expr: "!P.attr.revoked"\n'
        "              - expr: timestamp(P.attr.expires) > now()\n"
        "              - expr: size(P.attr.allowed_ips) == 0 || "
        "P.attr.allowed_ips.exists(n, P.attr.ip.inIPAddrRange(n))\n"
    )
    lines = [
        "apiVersion: api.cerbos.dev/v1",
        "resourcePolicy:",
        '  version: "default"',
        f"  resource: {kind}",
        "  rules:",
    ]
    for role, names in sorted(actions.items()):
        lines += [
            f"    - actions: [{', '.join(sorted(names))}]",
            "      effect: EFFECT_ALLOW",
            f"      roles: [{role}]",
        ]
        lines.append(allow.rstrip("\n"))
    lines += [
        "    - actions: [write, trigger, delete]",
        "      effect: EFFECT_DENY",
        '      roles: ["*"]',
        "      condition:\n        match:\n          all:\n            of:\n"
        '              - expr: P.attr.environment == "live"\n'
        "              - expr: size(P.attr.allowed_ips) == 0",
    ]
    return "\n".join(lines) + "\n"


def write_policies(directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    kinds: dict[str, dict[str, set[str]]] = {}
    for role, scopes in role_scopes().items():
        for _, _, resource, action in routes():
            if any(grants(scope, resource, action) for scope in scopes):
                kinds.setdefault(resource, {}).setdefault(role, set()).add(action)
    for kind, actions in kinds.items():
        (directory / f"{kind}.yaml").write_text(_policy(kind, actions), encoding="utf-8")


def start(binary: Path, workdir: Path) -> tuple[subprocess.Popen[bytes], str]:
    policies = workdir / "cerbos-policies"
    write_policies(policies)
    http_port, grpc_port = free_port(), free_port()
    config = workdir / "cerbos.yaml"
    config.write_text(
        "server:\n"
        f'  httpListenAddr: "127.0.0.1:{http_port}"\n'
        f'  grpcListenAddr: "127.0.0.1:{grpc_port}"\n'
        "storage:\n  driver: disk\n  disk:\n"
        f"    directory: {policies}\n    watchForChanges: false\n"
        "telemetry:\n  disabled: true\n",
        encoding="utf-8",
    )
    log = (workdir / "cerbos.log").open("wb")
    server = subprocess.Popen(
        [str(binary), "server", "--config", str(config)],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "CERBOS_NO_TELEMETRY": "1"},
    )
    url = f"http://127.0.0.1:{http_port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(
                f"the cerbos server stopped: {(workdir / 'cerbos.log').read_text()[-500:]}"
            )
        try:
            if httpx.get(f"{url}/_cerbos/health", timeout=1).status_code == 200:
                return server, url
        except httpx.HTTPError:
            time.sleep(0.2)
    server.terminate()
    raise RuntimeError("the cerbos server did not answer its health check within 30 s")


def run(current: Run) -> None:
    report = current.report
    if current.quick:
        report.skip("Cerbos: skipped in quick mode (it needs the server binary from npm)")
        return
    if current.cerbos is None:
        report.skip("Cerbos: skipped (`--cerbos ''`)")
        return
    try:
        binary = find_binary(current.cerbos)
        version = subprocess.run(
            [str(binary), "--version"], capture_output=True, text=True, timeout=30, check=False
        ).stdout.split()[:1]
        server, url = start(binary, current.workdir)
    except (RuntimeError, OSError, subprocess.SubprocessError) as error:
        report.skip(f"Cerbos: not measured, the server could not be had: {error}")
        report.goal("cerbos", f"not measured: {error}", None)
        return
    report.machine["Cerbos server"] = f"{version[0] if version else '?'} (npm package cerbos)"
    try:
        _measure(current, url)
    finally:
        server.terminate()
        server.wait(timeout=10)


def _measure(current: Run, url: str) -> None:
    from cerbos.sdk.client import CerbosClient
    from cerbos.sdk.model import Principal, Resource

    ring = Keyring()
    asked = request(ring.issue())
    expect(ring.engine, asked, Code.OK, ENGINE)
    expires = "2099-01-01T00:00:00Z"

    def principal(ip: str) -> dict[str, object]:
        return {
            "environment": "live",
            "revoked": False,
            "expires": expires,
            "allowed_ips": [NETWORK],
            "ip": ip,
        }

    sdk = CerbosClient(url, timeout_secs=2.0)
    events = Resource(id="events", kind="events")

    def by_sdk(action: str = "read", ip: str = INSIDE) -> bool:
        return sdk.is_allowed(
            action, Principal("key_bench", roles={"read-only"}, attr=principal(ip)), events
        )

    raw = httpx.Client(base_url=url, timeout=2.0)

    def by_http(action: str = "read", ip: str = INSIDE) -> bool:
        answer = raw.post(
            "/api/check/resources",
            json={
                "principal": {"id": "key_bench", "roles": ["read-only"], "attr": principal(ip)},
                "resources": [
                    {"actions": [action], "resource": {"kind": "events", "id": "events"}}
                ],
            },
        )
        return bool(answer.json()["results"][0]["actions"][action] == "EFFECT_ALLOW")

    for ask in (by_sdk, by_http):
        if not ask() or ask("write") or ask(ip=OUTSIDE):
            raise RuntimeError("the Cerbos policies do not decide as tDoc's policies do")
    try:
        samples = interleaved(
            {ENGINE: partial(ring.engine.check, asked), SDK: by_sdk, RAW: by_http}, current.budget
        )
    finally:
        sdk.close()
        raw.close()
        ring.close()
    table = Table(
        "Cerbos, a decision server on loopback", ("what", "time per check", "÷ engine.check")
    )
    for name, sample in samples.items():
        table.add(name, timed(sample), times(ratio(sample, samples[ENGINE])))
    table.notes.append(
        "Cerbos is given the key's role, network, environment, state and expiry as principal "
        "attributes and the client address; it hashes no key and limits no rate."
    )
    current.report.tables.append(table)
    share = ratio(samples[SDK], samples[ENGINE])
    current.report.goal(
        "cerbos",
        f"{times(share)}: {micro(samples[SDK].median)} by the SDK, "
        f"{micro(samples[RAW].median)} bare",
        None,
    )
    current.report.data["cerbos"] = {
        name: {"median": s.median, "quartiles": s.quartiles}
        for name, s in samples.items()
        if name != ENGINE
    }
