"""A process that checks requests and then ends in the way the test asks.

    python child.py DIRECTORY MODE COUNT

MODE: ``sigterm``, ``sigint``, ``host-sigterm`` (a handler of the host's own was there
first), ``exit`` (returns without closing the engine). The monitor's writer is made to
sleep, so that every record is still queued when the end comes.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

import policyengine.monitor.stream as stream
from policyengine import Engine, Request

ROOT = Path(__file__).resolve().parents[2]


def main() -> int:
    directory, mode, count = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    stream.DEFAULT_INTERVAL = 3600.0  # only a flush wakes the writer
    if mode == "host-sigterm":

        def host(signum: int, frame: object) -> None:
            print("the host's handler ran", flush=True)
            sys.exit(3)

        signal.signal(signal.SIGTERM, host)
    engine = Engine.from_directory(
        ROOT / "policies",
        environment="live",
        store=f"sqlite:///{directory / 'policyengine.db'}",
        maintenance_interval=None,
    )
    issued = engine.keys.create(type="read-only", label="child", environment="live")
    print(issued.key.id, flush=True)
    for number in range(count):
        engine.check(
            Request(
                credential=issued.secret,
                method="GET",
                path="/v1/events",
                ip="203.0.113.9",
                request_id=f"r{number}",
            )
        )
    print("queued", engine.monitor.stats().queued, flush=True)
    if mode in ("sigterm", "host-sigterm"):
        os.kill(os.getpid(), signal.SIGTERM)
    elif mode == "sigint":
        os.kill(os.getpid(), signal.SIGINT)
    return 0


if __name__ == "__main__":
    sys.exit(main())
