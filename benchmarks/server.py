"""The FastAPI application the HTTP benchmark loads, in one of three forms:

``plain`` (unprotected), ``dependency`` (``Depends(Authorize(engine))``) or ``middleware``
(``PolicyMiddleware`` around the plain application); ``unmonitored`` is the middleware
with monitoring off, to show what recording every decision costs a server.

    python -m benchmarks.server MODE PORT STORE_URL

It serves ``GET /v1/events`` on 127.0.0.1 with uvicorn, without access logs; the key
store's hashing secret comes from ``$POLICYENGINE_SECRET``.
"""

from __future__ import annotations

import sys
from typing import Any

from fastapi import Depends, FastAPI

from benchmarks.fixtures import POLICIES
from policyengine import Engine
from policyengine.integrations.asgi import PolicyMiddleware
from policyengine.integrations.fastapi import Authorize, install

MODES = ("plain", "dependency", "middleware", "unmonitored")


def build(mode: str, store: str) -> Any:
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
    app = FastAPI()
    engine = (
        None
        if mode == "plain"
        else Engine.from_directory(
            POLICIES,
            environment="live",
            store=store,
            # Otherwise the default: decisions recorded beside the key store.
            **({"monitor": "off"} if mode == "unmonitored" else {}),
        )
    )
    dependencies = []
    if mode == "dependency":
        assert engine is not None
        install(app, engine)
        dependencies.append(Depends(Authorize(engine)))

    @app.get("/v1/events", dependencies=dependencies)
    async def list_events() -> dict[str, object]:
        return {"data": [], "next_cursor": None}

    if mode in ("middleware", "unmonitored"):
        assert engine is not None
        return PolicyMiddleware(app, engine)
    return app


def main(argv: list[str]) -> int:
    import uvicorn

    mode, port, store = argv
    uvicorn.run(
        build(mode, store), host="127.0.0.1", port=int(port), log_level="warning", access_log=False
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
