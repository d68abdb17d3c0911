"""``policyengine audit verify|export|head``: the audit log, from a terminal.

Each needs the server's secret, as the engine finds it: ``$POLICYENGINE_SECRET``, else
the file beside an SQLite key store.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

from policyengine.cli import monitor as monitor_cli
from policyengine.cli.options import moment_option, store_url
from policyengine.cli.output import FAILED, MISUSE, OK, guard, print_error, print_json
from policyengine.keys.manager import KeyManager
from policyengine.monitor import AuditLog
from policyengine.policy.model import PolicySet


def register(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
    common: argparse.ArgumentParser,
) -> None:
    audit = subparsers.add_parser(
        "audit",
        help="verify, export and mark the head of the audit log",
        description="The hash-chained audit log of key changes, policy loads and alerts.",
    )
    audit.set_defaults(handler=run, audit_command=None)
    commands = audit.add_subparsers(dest="audit_command", metavar="COMMAND")
    verify = commands.add_parser(
        "verify", parents=[common], help="check every entry; name the first one tampered with"
    )
    verify.add_argument(
        "--head", metavar="SEQ:MAC", help="a head printed earlier, which the log must reach"
    )
    export = commands.add_parser("export", parents=[common], help="write entries as JSON lines")
    export.add_argument("--since", metavar="TIME", help="an ISO 8601 instant, or a span ago: 1h")
    export.add_argument("--until", metavar="TIME", help="likewise")
    export.add_argument("--event", action="append", help="key.revoked, or key.*; repeatable")
    export.add_argument("--actor", help="who did it, such as cli:alice")
    export.add_argument("--subject", help="what it was done to, such as a key id")
    export.add_argument("--output", metavar="FILE", help="write here instead of to stdout")
    commands.add_parser("head", parents=[common], help="print the last entry's seq and HMAC")


def run(args: argparse.Namespace) -> int:
    command = _COMMANDS.get(getattr(args, "audit_command", None) or "")
    if command is None:
        print_error(f"choose a command: policyengine audit {{{','.join(_COMMANDS)}}} …")
        return MISUSE
    return guard(command, args)


@contextmanager
def _log(args: argparse.Namespace) -> Iterator[AuditLog]:
    keys = KeyManager.open(
        store_url(args.store),
        lambda: PolicySet(key_types={}),
        create=False,
        maintenance_interval=None,
    )
    try:
        audit_key, _ = keys.derived_secret("audit")
    finally:
        keys.close()
    with monitor_cli.opened(args, audit_key) as monitor:
        yield monitor.audit


def verify(args: argparse.Namespace) -> int:
    with _log(args) as log:
        result = log.verify(args.head)
    problem = result.problem
    if args.json:
        print_json(
            {
                "ok": result.ok,
                "checked": result.checked,
                "head": str(result.head) if result.head else None,
                "problem": None
                if problem is None
                else {"kind": problem.kind, "seq": problem.seq, "message": problem.message},
            }
        )
    elif problem is None:
        head = f"; head {result.head}" if result.head else ""
        print(f"audit log verified: {result.checked} entries, unbroken{head}")
    else:
        print(f"audit log broken: {problem.message}")
        print(f"{result.checked} entries before it verified")
    return OK if problem is None else FAILED


def export(args: argparse.Namespace) -> int:
    with _log(args) as log:
        entries = log.export(
            since=moment_option(args.since, "--since"),
            until=moment_option(args.until, "--until"),
            event=args.event,
            actor=args.actor,
            subject=args.subject,
        )
        if args.output is None:
            _write(entries, sys.stdout)
        else:
            with open(args.output, "w", encoding="utf-8") as out:
                count = _write(entries, out)
            print(f"wrote {count} entries to {args.output}", file=sys.stderr)
    return OK


def head(args: argparse.Namespace) -> int:
    with _log(args) as log:
        found = log.head()
    if args.json:
        print_json(None if found is None else {"seq": found.seq, "mac": found.mac})
    elif found is None:
        print("the audit log is empty")
    else:
        print(found)
    return OK


def _write(entries: Iterator[object], out: TextIO) -> int:
    count = 0
    for entry in entries:
        out.write(json.dumps(entry.as_dict(), ensure_ascii=False) + "\n")  # type: ignore[attr-defined]
        count += 1
    return count


_COMMANDS = {"verify": verify, "export": export, "head": head}
