"""``policyengine validate``, ``test`` and ``check``: the commands about policies and
the decisions they make."""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import datetime
from pathlib import Path

from policyengine.cli.options import (
    DEFAULT_STORE,
    STORE_ENV,
    add_environment,
    add_proxy_options,
    store_url,
)
from policyengine.cli.output import FAILED, MISUSE, OK
from policyengine.errors import InvalidValue
from policyengine.net import parse_ip
from policyengine.units import shown

KEY_ENV = "POLICYENGINE_KEY"


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    validate = commands.add_parser("validate", help="check policy files and their test suites")
    validate.add_argument(
        "directory", nargs="?", default="policies", help="the policy directory (policies)"
    )
    validate.set_defaults(handler=_validate)

    test = commands.add_parser("test", help="run the policy test suites (*_test.yaml)")
    test.add_argument(
        "directory", nargs="?", default="policies", help="the policy directory (policies)"
    )
    test.add_argument("--junit", metavar="FILE", help="also write a JUnit XML report")
    test.add_argument(
        "--require-coverage",
        action="store_true",
        help="fail unless every rule matched in some test case",
    )
    test.add_argument("-v", "--verbose", action="store_true", help="list every case")
    test.set_defaults(handler=_test)

    check = commands.add_parser(
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
    add_proxy_options(check)
    check.add_argument(
        "--header", action="append", default=[], metavar="NAME:VALUE", help="repeatable"
    )
    check.add_argument("--key-env", default=KEY_ENV, metavar="VAR", help=f"default: {KEY_ENV}")
    check.add_argument("--key-stdin", action="store_true", help="read the key from stdin")
    check.add_argument("--at", metavar="TIME", help="decide as at this ISO 8601 instant")
    add_environment(check, "environment", "the environment the engine decides for")
    check.add_argument("--policies", default="policies", metavar="DIR")
    check.add_argument(
        "--store",
        metavar="URL",
        help=f"the key store (default: ${STORE_ENV}, else {DEFAULT_STORE})",
    )
    check.add_argument("--json", action="store_true", help="print JSON instead of text")
    check.set_defaults(handler=_check)


def _validate(args: argparse.Namespace) -> int:
    from policyengine.policy.loader import load_directory
    from policyengine.policy.suites import load_suites

    policy = load_directory(args.directory)
    suites = load_suites(args.directory, policy)
    cases = sum(len(s.cases) for s in suites)
    counts = ", ".join(
        _count(n, what)
        for n, what in (
            (len(policy.key_types), "key type"),
            (len(policy.routes), "route"),
            (len(policy.rules), "rule"),
            (len(policy.files), "file"),
        )
    )
    tests = f"{_count(len(suites), 'test suite')}, {_count(cases, 'case')}"
    print(f"{args.directory}: valid — {counts}; {tests}")
    return OK


def _count(n: int, what: str) -> str:
    return f"{n} {what}{'' if n == 1 else 's'}"


def _test(args: argparse.Namespace) -> int:
    from policyengine.testrun import junit_xml, run_directory

    run = run_directory(args.directory)
    current = None
    for result in run.results:
        if args.verbose and result.suite.path != current:
            current = result.suite.path
            print(f"{current}  ({result.suite.name})")
        if args.verbose:
            print(f"  {'ok  ' if result.passed else 'FAIL'} {result.case.name}")
    for result in run.failed:
        print(f"FAIL {result.case.name}\n  {result.failure()}")
    passed = len(run.results) - len(run.failed)
    print(f"{passed} passed, {len(run.failed)} failed")
    print("\n".join(run.coverage.lines()))
    if args.junit:
        Path(args.junit).write_bytes(junit_xml(run))
    if not run.results:
        print(f"no test cases in {args.directory} (write *_test.yaml suites)")
        return FAILED
    if args.require_coverage and not run.coverage.rules_complete:
        print("rule coverage is incomplete (--require-coverage)")
        return FAILED
    return FAILED if run.failed else OK


def _check(args: argparse.Namespace) -> int:
    from policyengine.engine import Engine
    from policyengine.request import Request

    if (args.method is None) == (args.resource is None) or (args.resource is None) != (
        args.action is None
    ):
        print("error: give a METHOD and PATH, or --resource and --action", file=sys.stderr)
        return MISUSE
    if args.method is not None and args.path is None:
        print("error: give the PATH after the METHOD", file=sys.stderr)
        return MISUSE
    credential = sys.stdin.readline().strip() if args.key_stdin else os.environ.get(args.key_env)
    headers = {}
    for pair in args.header:
        name, separator, value = pair.partition(":")
        if not separator or not name.strip():
            print(f"error: --header takes NAME:VALUE, not {pair!r}", file=sys.stderr)
            return MISUSE
        headers[name.strip().lower()] = value.strip()
    at = None
    if args.at is not None:
        try:
            at = datetime.fromisoformat(args.at.replace("Z", "+00:00"))
        except ValueError:
            at = None
        if at is None or at.tzinfo is None:
            raise InvalidValue(f"--at takes an ISO 8601 instant with its offset, not {args.at!r}")
    if args.ip is not None:
        try:
            parse_ip(args.ip)
        except InvalidValue:
            raise InvalidValue(
                f"--ip takes an IP address, such as 203.0.113.9, not {shown(args.ip)}"
            ) from None
    with Engine.from_directory(
        args.policies,
        environment=args.environment,
        store=store_url(args.store),
        trusted_proxies=args.trusted_proxy,
        forwarded_header=args.forwarded_header,
        create=False,
        maintenance_interval=None,
        # A question asked from a terminal is not traffic: nothing is recorded.
        monitor="off",
        handle_signals=False,
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
    return OK if decision.allowed else FAILED
