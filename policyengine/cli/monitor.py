"""``policyengine keys activity ID``, ``policyengine keys usage ID`` and
``policyengine alerts``: what the monitor recorded, from a terminal."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from policyengine.cli.options import moment_option
from policyengine.cli.output import OK, clip, print_json, table
from policyengine.monitor import Activity, DecisionRecord, Monitor
from policyengine.monitor.alerts import ALERT_STATES
from policyengine.monitor.usage import STEPS
from policyengine.policy.alerts import ALERT_KINDS, SEVERITIES


def add_query_options(parser: argparse.ArgumentParser, codes: bool = True) -> None:
    parser.add_argument("--since", metavar="TIME", help="an ISO 8601 instant, or a span ago: 1h")
    parser.add_argument("--until", metavar="TIME", help="likewise; default: now")
    if codes:
        parser.add_argument("--code", action="append", help="a decision code; repeatable")
        parser.add_argument("--action", help="the action asked for, such as read")
    parser.add_argument("--limit", type=int, default=50, help="at most this many (default: 50)")
    parser.add_argument("--cursor", help="where the previous page ended")


def register_alerts(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
    common: argparse.ArgumentParser,
) -> None:
    alerts = subparsers.add_parser(
        "alerts",
        parents=[common],
        help="list the alerts the monitor raised",
        description="List alerts, newest first.",
    )
    alerts.add_argument("--state", choices=ALERT_STATES)
    alerts.add_argument("--kind", action="append", choices=list(ALERT_KINDS), help="repeatable")
    alerts.add_argument("--severity", choices=SEVERITIES)
    alerts.add_argument("--subject", help="a key id or a client address")
    add_query_options(alerts, codes=False)
    alerts.set_defaults(handler=alerts_command)


def register_key_commands(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
    common: argparse.ArgumentParser,
) -> None:
    activity = commands.add_parser(
        "activity", parents=[common], help="what one key did, and what was done to it"
    )
    activity.add_argument("key_id", metavar="ID")
    activity.add_argument("--explain", action="store_true", help="each decision's steps")
    add_query_options(activity)
    usage = commands.add_parser(
        "usage", parents=[common], help="one key's use per minute, hour or day"
    )
    usage.add_argument("key_id", metavar="ID")
    usage.add_argument("--step", choices=list(STEPS), default="minute", help="default: minute")
    usage.add_argument("--since", metavar="TIME", help="an ISO 8601 instant, or a span ago: 1h")
    usage.add_argument("--until", metavar="TIME", help="likewise; default: now")


@contextmanager
def opened(args: argparse.Namespace, audit_key: bytes | None = None) -> Iterator[Monitor]:
    from policyengine.cli.options import monitor_url

    monitor = Monitor.open(monitor_url(args.monitor, args.store), clock=_now, audit_key=audit_key)
    try:
        yield monitor
    finally:
        monitor.close()


def activity(args: argparse.Namespace) -> int:
    with opened(args) as monitor:
        page = monitor.activity(
            args.key_id,
            since=moment_option(args.since, "--since"),
            until=moment_option(args.until, "--until"),
            code=args.code,
            action=args.action,
            cursor=args.cursor,
            limit=args.limit,
        )
    if args.json:
        print_json({"data": [item.as_dict() for item in page], "next_cursor": page.next_cursor})
        return OK
    print(table(("AT", "WHAT", "REQUEST", "FROM", "WHY"), [_row(item) for item in page]))
    if args.explain:
        for item in page:
            if isinstance(item, DecisionRecord):
                print(f"\n{_at(item.at)}  {item.code.value}  {item.request_id}")
                for step in item.trace:
                    print(f"  {'passed' if step.passed else 'failed'} {step.step}: {step.detail}")
    _more(page.next_cursor)
    return OK


def usage(args: argparse.Namespace) -> int:
    with opened(args) as monitor:
        points = monitor.usage(
            args.key_id,
            moment_option(args.since, "--since"),
            moment_option(args.until, "--until"),
            args.step,
        )
    if args.json:
        print_json({"data": [point.as_dict() for point in points]})
        return OK
    rows = [
        [
            _at(p.start),
            str(p.requests),
            str(p.allowed),
            " ".join(f"{code}={count}" for code, count in p.denied.items()) or "-",
            "-" if p.headroom is None else f"{p.headroom:.1%}",
            str(p.credits),
        ]
        for p in points
    ]
    print(table(("START", "REQUESTS", "ALLOWED", "DENIED", "HEADROOM", "CREDITS"), rows))
    return OK


def alerts_command(args: argparse.Namespace) -> int:
    with opened(args) as monitor:
        page = monitor.alerts(
            state=args.state,
            kind=args.kind,
            severity=args.severity,
            subject=args.subject,
            since=moment_option(args.since, "--since"),
            until=moment_option(args.until, "--until"),
            cursor=args.cursor,
            limit=args.limit,
        )
    if args.json:
        print_json({"data": [alert.as_dict() for alert in page], "next_cursor": page.next_cursor})
        return OK
    rows = [
        [
            _at(a.first_seen),
            _at(a.last_seen),
            a.severity,
            a.kind,
            a.subject,
            str(a.count),
            a.state,
            clip(a.message, 72),
        ]
        for a in page
    ]
    headers = ("RAISED", "LAST SEEN", "SEVERITY", "KIND", "SUBJECT", "COUNT", "STATE", "MESSAGE")
    print(table(headers, rows))
    _more(page.next_cursor)
    return OK


def _row(item: Activity) -> list[str]:
    if not isinstance(item, DecisionRecord):
        return [_at(item.at), item.event, "-", "-", f"by {item.actor}"]
    asked = f"{item.method} {item.path}" if item.path else f"{item.resource}:{item.action}"
    return [
        _at(item.at),
        item.code.value,
        clip(asked, 40),
        item.client or "-",
        clip(item.reason, 60),
    ]


def _more(cursor: str | None) -> None:
    if cursor:
        print(f"\nmore: add --cursor {cursor}")


def _at(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def _now() -> datetime:
    return datetime.now(UTC)
