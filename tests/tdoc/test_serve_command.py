"""``policyengine serve``'s command line: its options, and that the engine does not
depend on the web stack that only the server needs."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

from policyengine.cli import build_parser

from .conftest import POLICIES, SECRET
from .served import serve


def test_serve_takes_the_documented_options_with_their_defaults() -> None:
    args = build_parser().parse_args(["serve"])
    assert (args.host, args.port, args.policies, args.limiter, args.environment) == (
        "127.0.0.1",
        8000,
        "policies",
        "memory://",
        "test",
    )
    args = build_parser().parse_args(
        [
            "serve",
            "--host=0.0.0.0",
            "--port=9000",
            "--policies=p",
            "--store=postgresql://db/tdoc",
            "--limiter=redis://cache",
            "--environment=live",
            "--redis=redis://cache",
            "--hook-network=10.0.0.0/8",
            "--trusted-proxy=10.0.0.0/8",
            "--trusted-proxy=fd00::/8",
            "--forwarded-header=forwarded",
        ]
    )
    assert (args.trusted_proxy, args.forwarded_header) == (["10.0.0.0/8", "fd00::/8"], "forwarded")
    assert (args.host, args.port, args.store, args.environment, args.hook_network) == (
        "0.0.0.0",
        9000,
        "postgresql://db/tdoc",
        "live",
        ["10.0.0.0/8"],
    )


def test_a_port_out_of_range_is_misuse() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "policyengine", "serve", "--port", "70000"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "invalid port 70000" in result.stderr


def test_the_command_line_does_not_load_the_web_stack_until_serve_runs() -> None:
    code = (
        "import sys, policyengine.cli; policyengine.cli.build_parser();"
        "print(sorted(m for m in ('fastapi', 'uvicorn', 'starlette', 'portal') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )
    assert result.stdout.strip() == "[]", result.stderr


def test_a_server_that_cannot_listen_exits_1_and_keeps_its_admin_key_for_later(
    tmp_path: Path,
) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "policyengine",
                "serve",
                f"--port={port}",
                f"--policies={POLICIES}",
                f"--store=sqlite:///{tmp_path / 'tdoc.db'}",
                "--no-docs-build",
            ],
            capture_output=True,
            text=True,
            timeout=60,
            cwd=tmp_path,
            env={**os.environ, "POLICYENGINE_SECRET": SECRET},
        )
    assert result.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr
    assert "tdoc_test_" not in result.stdout
    with serve(tmp_path) as served:
        assert served.admin_key is not None
