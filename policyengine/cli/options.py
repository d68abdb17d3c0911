"""Where the commands find the key store and Redis when no option names them."""

from __future__ import annotations

import os

DEFAULT_STORE = "sqlite:///policyengine.db"
STORE_ENV = "POLICYENGINE_STORE"
REDIS_ENV = "POLICYENGINE_REDIS"


def store_url(given: str | None) -> str:
    """``--store``, else ``$POLICYENGINE_STORE``, else the SQLite file in this directory."""
    return given or os.environ.get(STORE_ENV) or DEFAULT_STORE


def redis_url(given: str | None) -> str | None:
    return given or os.environ.get(REDIS_ENV) or None
