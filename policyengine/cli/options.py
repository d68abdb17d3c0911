"""What the commands share: where they find the key store, the monitor and Redis when no
option names them; who they act as; the times they are given; and the one default
environment."""

from __future__ import annotations

import argparse
import getpass
import os
from datetime import UTC, datetime, timedelta

from policyengine.errors import InvalidValue
from policyengine.monitor import default_monitor_url
from policyengine.net import FORWARDING_HEADERS
from policyengine.record import ENVIRONMENTS
from policyengine.units import parse_duration

DEFAULT_STORE = "sqlite:///policyengine.db"
STORE_ENV = "POLICYENGINE_STORE"
REDIS_ENV = "POLICYENGINE_REDIS"
MONITOR_ENV = "POLICYENGINE_MONITOR"


def store_url(given: str | None) -> str:
    """``--store``, else ``$POLICYENGINE_STORE``, else the SQLite file in this directory."""
    return given or os.environ.get(STORE_ENV) or DEFAULT_STORE


def redis_url(given: str | None) -> str | None:
    return given or os.environ.get(REDIS_ENV) or None


def monitor_url(given: str | None, store: str | None) -> str:
    """``--monitor``, else ``$POLICYENGINE_MONITOR``, else beside the key store."""
    return given or os.environ.get(MONITOR_ENV) or default_monitor_url(store_url(store))


def monitor_options() -> argparse.ArgumentParser:
    """``--store``, ``--monitor`` and ``--json``: what every command that reads the monitor
    takes."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--store",
        metavar="URL",
        help=f"the key store (default: ${STORE_ENV}, else {DEFAULT_STORE})",
    )
    add_monitor_option(common)
    common.add_argument("--json", action="store_true", help="print JSON instead of text")
    return common


def add_monitor_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--monitor",
        metavar="URL",
        help=f"the monitor's store (default: ${MONITOR_ENV}, else beside the key store)",
    )


def cli_actor() -> str:
    """Who a change from the command line is by, in the audit log: ``cli:<os user>``."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (a bare container)
        user = f"uid{os.getuid()}"
    return f"cli:{user}"


def moment_option(text: str | None, option: str) -> datetime | None:
    """An instant given as ISO 8601 with its offset (``2026-11-27T12:00:00Z``), or as a
    span before now (``90m``, ``7d``)."""
    if text is None:
        return None
    try:
        return datetime.now(UTC) - timedelta(seconds=parse_duration(text))
    except InvalidValue:
        pass
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise InvalidValue(
            f"{option} takes an ISO 8601 instant with its offset, such as "
            f"2026-11-27T12:00:00Z, or a span before now, such as 1h; not {text!r}"
        )
    return moment


#: The environment keys are made in and checked for when none is named: the engine's
#: default too, so that a key made with the defaults is accepted with the defaults.
DEFAULT_ENVIRONMENT = "test"


def add_environment(parser: argparse.ArgumentParser, dest: str, what: str) -> None:
    """``--env``/``--environment``, one of test or live, by default test."""
    parser.add_argument(
        "--env",
        "--environment",
        dest=dest,
        choices=ENVIRONMENTS,
        default=DEFAULT_ENVIRONMENT,
        help=f"{what} (default: {DEFAULT_ENVIRONMENT})",
    )


def add_proxy_options(parser: argparse.ArgumentParser) -> None:
    """``--trusted-proxy`` and ``--forwarded-header``: whose forwarding header is believed,
    and which one header that is (the engine's ``trusted_proxies`` and
    ``forwarded_header``)."""
    parser.add_argument(
        "--trusted-proxy",
        action="append",
        default=[],
        metavar="CIDR",
        help="a network whose forwarding header is believed; repeatable",
    )
    parser.add_argument(
        "--forwarded-header",
        choices=FORWARDING_HEADERS,
        default=FORWARDING_HEADERS[0],
        help="the header the trusted proxies write (default: x-forwarded-for)",
    )
