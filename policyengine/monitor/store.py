"""The monitor's storage protocol, and the registry that opens a store from its URL.

A store keeps what the writer hands it, one batch per transaction, so that a crash loses
at most the batch in flight; and answers the monitor's queries. Every backend failure
surfaces as :class:`~policyengine.errors.StorageError`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from policyengine.errors import ConfigError
from policyengine.monitor.records import DecisionRecord
from policyengine.monitor.usage import Bucket, BucketKey, Step, UsagePoint
from policyengine.redaction import redact


@dataclass(slots=True)
class Batch:
    """What one transaction writes."""

    decisions: list[DecisionRecord] = field(default_factory=list)
    #: What to add to each usage bucket.
    usage: dict[BucketKey, Bucket] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.decisions or self.usage)


@dataclass(frozen=True, slots=True)
class DecisionQuery:
    """Which decision records to return: newest first, ``limit`` of them, older than
    ``after`` (``(at in µs, id)`` of the previous page's last record)."""

    limit: int
    #: One key's records; with ``keyless``, only records of requests without a valid key.
    key_id: str | None = None
    keyless: bool = False
    client: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    codes: tuple[str, ...] = ()
    action: str | None = None
    after: tuple[int, str] | None = None


@dataclass(frozen=True, slots=True)
class UsageQuery:
    """One key's buckets of one step that start from ``since`` up to ``until``."""

    key_id: str
    step: Step
    since: datetime
    until: datetime


class MonitorStore(Protocol):
    #: Whether what is kept outlives the process (``memory://`` does not).
    persistent: bool

    def write(self, batch: Batch) -> None:
        """Keep everything in ``batch``, all or nothing."""

    def decisions(self, query: DecisionQuery) -> Sequence[DecisionRecord]: ...

    def usage(self, query: UsageQuery) -> Sequence[UsagePoint]:
        """The buckets that have counts, oldest first."""

    def prune(self, before: datetime) -> int:
        """Forget decision records and usage older than ``before``; say how many records."""

    def close(self) -> None: ...


StoreFactory = Callable[[str], MonitorStore]
_SCHEMES: dict[str, StoreFactory] = {}


def register_scheme(scheme: str, factory: StoreFactory) -> None:
    _SCHEMES[scheme] = factory


def open_store(url: str) -> MonitorStore:
    """The store at ``url``: ``memory://``, ``sqlite:///path`` or ``postgresql://…``."""
    from policyengine.monitor import memory, sql  # noqa: F401 - they register themselves

    scheme = url.partition("://")[0].lower() if isinstance(url, str) and "://" in url else ""
    factory = _SCHEMES.get(scheme)
    if factory is None:
        known = ", ".join(f"{name}://" for name in sorted(_SCHEMES))
        raise ConfigError(f"unknown monitor URL {redact(url)!r}: use one of {known}, or off")
    return factory(url)
