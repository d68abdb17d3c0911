"""The ``policyengine`` command: one module per group of commands, sharing
:mod:`policyengine.cli.output` for what they print and how they exit (0 success, 1 a
failure or a denial, 2 misuse)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from importlib import metadata

from policyengine.cli import audit, keys, monitor, policies, serve
from policyengine.cli.options import monitor_options
from policyengine.cli.output import Handler, guard


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="policyengine",
        description="Policy-as-code authorization for API keys.",
    )
    parser.add_argument("--version", action="version", version=f"policyengine {_version()}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for group in (policies, keys, serve):
        group.register(commands)
    common = monitor_options()
    monitor.register_alerts(commands, common)
    audit.register(commands, common)
    return parser


def _version() -> str:
    try:
        return metadata.version("policyengine")
    except metadata.PackageNotFoundError:  # run from a source tree that was never installed
        return "(not installed)"


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler: Handler = args.handler
    return guard(handler, args)


if __name__ == "__main__":
    sys.exit(main())
