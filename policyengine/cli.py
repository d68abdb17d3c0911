"""The ``policyengine`` command. Exit status: 0 success, 1 policy errors or failing
tests, 2 misuse."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from policyengine.errors import PolicyEngineError, PolicyError

Handler = Callable[[argparse.Namespace], int]


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
    return 0


def _count(n: int, what: str) -> str:
    return f"{n} {what}{'' if n == 1 else 's'}"


def _test(args: argparse.Namespace) -> int:
    from policyengine.policy.testrun import junit_xml, run_directory

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
        return 1
    if args.require_coverage and not run.coverage.rules_complete:
        print("rule coverage is incomplete (--require-coverage)")
        return 1
    return 1 if run.failed else 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="policyengine",
        description="Policy-as-code authorization for API keys.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

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

    for register in _extensions():
        register(commands)
    return parser


def _extensions() -> list[Callable[[argparse._SubParsersAction[argparse.ArgumentParser]], None]]:
    """Commands that live beside their concept (``keys``, ``check``, ``serve``, …)."""
    found = []
    for module, name in (
        ("policyengine.keys.cli", "register"),
        ("policyengine.commands", "register"),
    ):
        try:
            imported = __import__(module, fromlist=[name])
        except ModuleNotFoundError as error:
            if error.name != module:
                raise
            continue
        found.append(getattr(imported, name))
    return found


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Handler = args.handler
    try:
        return handler(args)
    except PolicyError as error:
        for diagnostic in error.diagnostics:
            print(diagnostic, file=sys.stderr)
        count = len(error.diagnostics)
        print(f"{count} error{'s' if count != 1 else ''}", file=sys.stderr)
        return 1
    except PolicyEngineError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
    except OSError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except Exception as error:
        if os.environ.get("POLICYENGINE_DEBUG"):
            raise
        print(
            f"internal error: {type(error).__name__}: {error} "
            "(set POLICYENGINE_DEBUG=1 to see where)",
            file=sys.stderr,
        )
        return 1


if __name__ == "__main__":
    sys.exit(main())
