"""``policyengine serve``: tDoc's API, protected by the engine, in one process.

The server lives in the ``portal`` package, which needs FastAPI and uvicorn (the
``portal`` extra); it is imported only when the command runs, so that the engine itself
never depends on them.
"""

from __future__ import annotations

import argparse

from policyengine.cli.options import (
    DEFAULT_STORE,
    REDIS_ENV,
    STORE_ENV,
    add_monitor_option,
    add_proxy_options,
    monitor_url,
    redis_url,
    store_url,
)
from policyengine.cli.output import FAILED, print_error


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    serve = commands.add_parser(
        "serve",
        help="serve tDoc's API, every request checked by the engine",
        description="Serve tDoc's API (events, tasks, hooks, keys, tokens) with the engine "
        "in front of every route. On first start with an empty store, print an admin key.",
    )
    serve.add_argument("--host", default="127.0.0.1", help="the address to listen on (127.0.0.1)")
    serve.add_argument("--port", type=_port, default=8000, help="the port to listen on (8000)")
    serve.add_argument(
        "--policies", default="policies", metavar="DIR", help="the policy directory (policies)"
    )
    serve.add_argument(
        "--store",
        metavar="URL",
        help=f"keys and tDoc's data (default: ${STORE_ENV}, else {DEFAULT_STORE})",
    )
    serve.add_argument(
        "--limiter",
        default="memory://",
        metavar="URL",
        help="rate-limit state: memory:// (default) or redis://…, shared by every instance",
    )
    serve.add_argument(
        "--environment",
        choices=("test", "live"),
        default="test",
        help="which keys the server accepts (test)",
    )
    serve.add_argument(
        "--redis",
        metavar="URL",
        help=f"tell other instances of key changes at once (default: ${REDIS_ENV})",
    )
    add_monitor_option(serve)
    add_proxy_options(serve)
    serve.add_argument(
        "--hook-network",
        action="append",
        default=[],
        metavar="CIDR",
        help="a private network that hooks may deliver to (by default only public "
        "addresses); repeatable",
    )
    serve.add_argument(
        "--no-docs-build",
        dest="build_docs",
        action="store_false",
        help="serve the documentation at /docs as already built; never build it",
    )
    serve.set_defaults(handler=_serve)


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"invalid port {text!r}: a number from 1 to 65535"
        ) from None
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"invalid port {port}: a number from 1 to 65535")
    return port


def _serve(args: argparse.Namespace) -> int:
    try:
        from portal.server import ServeOptions, serve
    except ImportError as error:
        print_error(
            f"serve needs the portal extra ({error.name} is missing): "
            "pip install 'policyengine[portal]'"
        )
        return FAILED
    return serve(
        ServeOptions(
            host=args.host,
            port=args.port,
            policies=args.policies,
            store=store_url(args.store),
            limiter=args.limiter,
            environment=args.environment,
            redis=redis_url(args.redis),
            monitor=monitor_url(args.monitor, args.store),
            hook_networks=tuple(args.hook_network),
            trusted_proxies=tuple(args.trusted_proxy),
            forwarded_header=args.forwarded_header,
            build_docs=args.build_docs,
        )
    )
