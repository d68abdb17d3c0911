"""Where the monitor keeps its records, and for how long."""

from __future__ import annotations

from datetime import timedelta
from pathlib import PurePosixPath

from policyengine.errors import ConfigError
from policyengine.policy.model import PolicySet
from policyengine.units import parse_duration

OFF = "off"
DEFAULT_RETENTION = "30d"


def default_monitor_url(store: str, opened: bool = True) -> str:
    """The monitor beside a key store: ``sqlite:///policyengine.db`` →
    ``sqlite:///policyengine.monitor.db``; a PostgreSQL store's own database; memory for
    a store in memory, or for keys whose store was not opened from ``store``."""
    scheme = store.partition("://")[0].lower() if opened else "memory"
    if scheme == "sqlite" and store.startswith("sqlite:///"):
        path = PurePosixPath(store[len("sqlite:///") :])
        name = f"{path.stem}.monitor{path.suffix}" if path.suffix else f"{path.name}.monitor"
        return "sqlite:///" + str(path.with_name(name))
    if scheme in ("postgresql", "postgres"):
        return store
    return "memory://"


def parse_retention(retention: str | timedelta) -> timedelta:
    if isinstance(retention, timedelta):
        length = retention
    else:
        try:
            length = timedelta(seconds=parse_duration(retention))
        except ValueError as error:
            raise ConfigError(f"invalid retention: {error}") from None
    if length < timedelta(minutes=1):
        raise ConfigError("the monitor's retention must be at least a minute, such as 30d")
    return length


def no_policies() -> PolicySet:
    return PolicySet(key_types={})
