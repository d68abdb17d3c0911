"""A process under heavy traffic, for the test that kills it with SIGKILL.

    POLICYENGINE_SECRET=… python heavy.py STORE_URL MONITOR_URL

One thread checks requests as fast as it can, with request ids r0, r1, …; another keeps
creating and revoking keys, so that the audit log grows too. Every so often the process
prints how many checks it made and how many records the monitor has written.
"""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

from policyengine import Engine, Request

ROOT = Path(__file__).resolve().parents[2]


def churn(engine: Engine, stop: threading.Event) -> None:
    while not stop.is_set():
        issued = engine.keys.create(type="read-only", label="churn", environment="live")
        engine.keys.revoke(issued.key.id, actor="churn")


def main() -> int:
    store, monitor = sys.argv[1], sys.argv[2]
    engine = Engine.from_directory(
        ROOT / "policies",
        environment="live",
        store=store,
        monitor=monitor,
        maintenance_interval=None,
    )
    issued = engine.keys.create(
        type="read-only", label="heavy", environment="live", rate_limit="100000000/minute"
    )
    print("key", issued.key.id, flush=True)
    stop = threading.Event()
    threading.Thread(target=churn, args=(engine, stop), daemon=True).start()
    stream = engine.monitor._stream
    assert stream is not None
    number = 0
    while True:
        engine.check(
            Request(
                credential=issued.secret,
                method="GET",
                path="/v1/events",
                ip="203.0.113.9",
                request_id=f"r{number}",
            )
        )
        number += 1
        if number % 500 == 0:
            stats = engine.monitor.stats()
            print("made", number, "written", stats.written, "dropped", stats.dropped, flush=True)
            while stream.depth > 20_000:  # heavy, but never so heavy that records are dropped
                time.sleep(0.001)


if __name__ == "__main__":
    sys.exit(main())
