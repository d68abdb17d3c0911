"""``policyengine check``: one decision, explained, against the policies and key store."""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import datetime

from policyengine.errors import InvalidValue

KEY_ENV = "POLICYENGINE_KEY"


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    check = subparsers.add_parser(
        "check",
        help="decide one request and explain why",
        description=(
            "Decide one request, step by step. The key is read from an environment variable "
            f"(${KEY_ENV} by default) or from standard input, never from the command line, "
            "where it would be left in the shell's history."
        ),
    )
    check.add_argument("method", nargs="?", help="the HTTP method, such as GET")
    check.add_argument("path", nargs="?", help="the path, such as /v1/events")
    check.add_argument("--resource", help="instead of a method and path: events or events/evt_1")
    check.add_argument("--action", help="with --resource: read, write, …")
    check.add_argument("--ip", help="the client's address")
    check.add_argument(
        "--header", action="append", default=[], metavar="NAME:VALUE", help="repeatable"
    )
    check.add_argument("--key-env", default=KEY_ENV, metavar="VAR", help=f"default: {KEY_ENV}")
    check.add_argument("--key-stdin", action="store_true", help="read the key from stdin")
    check.add_argument("--at", metavar="TIME", help="decide as at this ISO 8601 instant")
    check.add_argument("--environment", choices=("test", "live"), default="live")
    check.add_argument("--policies", default="policies", metavar="DIR")
    check.add_argument(
        "--store",
        metavar="URL",
        help="the key store (default: $POLICYENGINE_STORE, else sqlite:///policyengine.db)",
    )
    check.add_argument("--json", action="store_true", help="print JSON instead of text")
    check.set_defaults(handler=_check)


def _check(args: argparse.Namespace) -> int:
    from policyengine.engine import Engine
    from policyengine.request import Request

    if (args.method is None) == (args.resource is None) or (args.resource is None) != (
        args.action is None
    ):
        print("error: give a METHOD and PATH, or --resource and --action", file=sys.stderr)
        return 2
    if args.method is not None and args.path is None:
        print("error: give the PATH after the METHOD", file=sys.stderr)
        return 2
    credential = sys.stdin.readline().strip() if args.key_stdin else os.environ.get(args.key_env)
    headers = {}
    for pair in args.header:
        name, separator, value = pair.partition(":")
        if not separator or not name.strip():
            print(f"error: --header takes NAME:VALUE, not {pair!r}", file=sys.stderr)
            return 2
        headers[name.strip().lower()] = value.strip()
    at = None
    if args.at is not None:
        try:
            at = datetime.fromisoformat(args.at.replace("Z", "+00:00"))
        except ValueError:
            at = None
        if at is None or at.tzinfo is None:
            raise InvalidValue(f"--at takes an ISO 8601 instant with its offset, not {args.at!r}")
    store = args.store or os.environ.get("POLICYENGINE_STORE", "sqlite:///policyengine.db")
    with Engine.from_directory(
        args.policies,
        environment=args.environment,
        store=store,
        create=False,
        maintenance_interval=None,
    ) as engine:
        decision = engine.check(
            Request(
                credential=credential,
                method=args.method,
                path=args.path,
                resource=args.resource,
                action=args.action,
                ip=args.ip,
                headers=headers,
                time=at,
            ),
            explain=True,
        )
    if args.json:
        print(
            json.dumps(
                {
                    "allowed": decision.allowed,
                    "code": decision.code.value,
                    "status": decision.status,
                    "reason": decision.reason,
                    "step": decision.step,
                    "rule": str(decision.rule) if decision.rule else None,
                    "key": decision.key.id if decision.key else None,
                    "headers": dict(decision.headers),
                    "error": decision.error,
                    "trace": [
                        {"step": s.step, "passed": s.passed, "detail": s.detail}
                        for s in decision.trace or ()
                    ],
                },
                indent=2,
            )
        )
    else:
        verdict = "allowed" if decision.allowed else "denied"
        print(f"{verdict}: {decision.code.value} ({decision.status}) — {decision.reason}")
        if decision.rule is not None:
            print(f"decided by: {decision.rule}")
        if decision.key is not None:
            print(f"key: {decision.key.id} ({decision.key.type}, {decision.key.environment})")
        for step in decision.trace or ():
            print(f"  {'✓' if step.passed else '✗'} {step.step:<12} {step.detail}")
        for name, value in decision.headers.items():
            print(f"{name}: {value}")
        if decision.error:
            print(f"error: {decision.error}")
    return 0 if decision.allowed else 1
