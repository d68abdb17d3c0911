"""``policyengine keys create|list|show|rotate|disable|enable|revoke|scan|activity|usage``.

Every command answers with an exit code (0 done, 1 failed or found live leaked keys,
2 misuse) and reports an error as one line, never as a traceback. A secret is printed
once, by the command that creates it, and shown masked everywhere else.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

from policyengine.cli import keys_actions as commands
from policyengine.cli import monitor
from policyengine.cli.options import (
    DEFAULT_STORE,
    REDIS_ENV,
    STORE_ENV,
    add_environment,
    add_monitor_option,
)
from policyengine.cli.output import MISUSE, guard, print_error
from policyengine.keys.store import KEY_STATES


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``keys`` command; its handler is ``args.handler(args) -> exit code``."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--policies",
        default="policies",
        metavar="DIR",
        help="the policy directory (default: policies)",
    )
    common.add_argument(
        "--store",
        metavar="URL",
        help=f"the key store (default: ${STORE_ENV}, else {DEFAULT_STORE})",
    )
    common.add_argument(
        "--redis",
        metavar="URL",
        help=f"publish changes to running services at once (default: ${REDIS_ENV})",
    )
    common.add_argument(
        "--key-prefix",
        metavar="PREFIX",
        help="the prefix of the keys (default: the policies' key_prefix)",
    )
    add_monitor_option(common)
    common.add_argument("--json", action="store_true", help="print JSON instead of text")

    keys = subparsers.add_parser(
        "keys",
        help="create, list, rotate, revoke and scan API keys",
        description="Manage API keys and find leaked ones.",
    )
    keys.set_defaults(handler=run, keys_command=None)
    commands = keys.add_subparsers(dest="keys_command", metavar="COMMAND")

    create = commands.add_parser(
        "create", parents=[common], help="create a key and print its secret once"
    )
    create.add_argument("--type", required=True, help="a key type from the policy files")
    create.add_argument("--label", required=True, help="what the key is for")
    add_environment(create, "env", "the environment the key is for")
    create.add_argument(
        "--expires-in", metavar="DURATION", help="such as 30d (default: the type's maximum)"
    )
    create.add_argument("--allowed-ip", action="append", metavar="CIDR", help="repeatable")
    create.add_argument(
        "--scope", action="append", help="for types whose scopes come from the key; repeatable"
    )
    create.add_argument(
        "--rate-limit", metavar="RATE", help="override the default limit, such as 100/minute"
    )
    create.add_argument(
        "--limit", action="append", metavar="NAME=RATE", help="override a named limit; repeatable"
    )
    create.add_argument("--usage", metavar="CREDITS[/REFILL]", help="such as 10000/monthly")
    create.add_argument("--metadata", action="append", metavar="NAME=VALUE", help="repeatable")

    listing = commands.add_parser("list", parents=[common], help="list keys, newest first")
    listing.add_argument("--env", "--environment", dest="env", choices=("test", "live"))
    listing.add_argument("--type")
    listing.add_argument("--state", choices=KEY_STATES)
    listing.add_argument("--label", help="part of the label")
    listing.add_argument("--limit", type=int, default=50)
    listing.add_argument("--cursor", help="where the previous page ended")

    for name, text in (
        ("show", "show one key"),
        ("disable", "stop a key until it is enabled"),
        ("enable", "let a disabled key work again"),
        ("revoke", "end a key for good"),
    ):
        command = commands.add_parser(name, parents=[common], help=text)
        command.add_argument("key_id", metavar="ID")
        if name == "revoke":
            command.add_argument("--reason", help="recorded with the revocation")

    rotate = commands.add_parser(
        "rotate", parents=[common], help="replace a key, keeping the old one for a grace period"
    )
    rotate.add_argument("key_id", metavar="ID")
    rotate.add_argument("--grace", default="1h", metavar="DURATION", help="default: 1h")
    rotate.add_argument("--expires-in", metavar="DURATION")

    scan = commands.add_parser("scan", parents=[common], help="find leaked keys in files")
    scan.add_argument("paths", nargs="+", metavar="PATH")
    scan.add_argument("--revoke", action="store_true", help="revoke every live key found")
    scan.add_argument("--offline", action="store_true", help="do not consult the key store")
    monitor.register_key_commands(commands, common)


def run(args: argparse.Namespace) -> int:
    command = _COMMANDS.get(getattr(args, "keys_command", None) or "")
    if command is None:
        print_error(f"choose a command: policyengine keys {{{','.join(_COMMANDS)}}} …")
        return MISUSE
    return guard(command, args)


_COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "create": commands.create,
    "list": commands.list_keys,
    "show": commands.show,
    "rotate": commands.rotate,
    "disable": commands.change("disable"),
    "enable": commands.change("enable"),
    "revoke": commands.change("revoke"),
    "scan": commands.scan,
    "activity": monitor.activity,
    "usage": monitor.usage,
}
