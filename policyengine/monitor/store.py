"""The monitor's storage protocol, and the registry that opens a store from its URL.

A store keeps what the writer hands it, one batch per transaction, so that a crash loses
at most the batch in flight; and answers the monitor's queries. Every backend failure
surfaces as :class:`~policyengine.errors.StorageError`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from policyengine.errors import ConfigError
from policyengine.keys.codec import to_micros
from policyengine.monitor.alerts import Alert, AlertChange, AlertState
from policyengine.monitor.audit import AuditDraft, AuditEntry, AuditHead, Chain
from policyengine.monitor.history import KeyHistory
from policyengine.monitor.records import DecisionRecord
from policyengine.monitor.rows import DecisionRow
from policyengine.monitor.usage import Bucket, BucketKey, Step, UsagePoint
from policyengine.redaction import redact

#: How long a key's networks are remembered after their last use, whatever the retention:
#: long enough to tell a dormant key, or a new network, from one seen in the last year.
NETWORK_MEMORY = timedelta(days=400)


@dataclass(slots=True)
class Batch:
    """What one transaction writes."""

    #: One row per decision (:mod:`policyengine.monitor.rows`); a store keeps what
    #: :func:`~policyengine.monitor.rows.record_of` makes of each.
    decisions: list[DecisionRow] = field(default_factory=list)
    #: What to add to each usage bucket.
    usage: dict[BucketKey, Bucket] = field(default_factory=dict)
    #: ``(key id, network) → (first, last use)`` to remember.
    networks: dict[tuple[str, str], tuple[datetime, datetime]] = field(default_factory=dict)
    alerts: list[AlertChange] = field(default_factory=list)
    #: Entries for the audit log, sealed into its chain when written (raised alerts are
    #: added to them then), and the chain that seals them.
    audit: list[AuditDraft] = field(default_factory=list)
    chain: Chain | None = None

    def __bool__(self) -> bool:
        return bool(self.decisions or self.usage or self.networks or self.alerts or self.audit)


@dataclass(slots=True)
class Written:
    """What a write made of the batch's alerts: those it opened, and those it added to
    because another process had opened them first."""

    raised: list[Alert] = field(default_factory=list)
    adopted: list[Alert] = field(default_factory=list)
    #: The audit entries written, in the chain's order.
    audit: list[AuditEntry] = field(default_factory=list)


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
    request_id: str | None = None


@dataclass(frozen=True, slots=True)
class UsageQuery:
    """One key's buckets of one step that start from ``since`` up to ``until``."""

    key_id: str
    step: Step
    since: datetime
    until: datetime


@dataclass(frozen=True, slots=True)
class AlertQuery:
    """Alerts newest first (by when they were raised), ``limit`` of them, older than
    ``after``; seen from ``since`` (their last sign) and raised before ``until``."""

    limit: int
    state: AlertState | None = None
    kinds: tuple[str, ...] = ()
    severity: str | None = None
    subject: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    after: tuple[int, str] | None = None


@dataclass(frozen=True, slots=True)
class AuditQuery:
    """Audit entries in the log's order after ``after_seq``, or newest first before the
    position ``before`` (``(at in µs, id)``), ``limit`` of them, filtered."""

    limit: int
    after_seq: int = 0
    newest_first: bool = False
    before: tuple[int, str] | None = None
    #: Event names, or groups as ``key.*``.
    events: tuple[str, ...] = ()
    actor: str | None = None
    subject: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    def matches(self, entry: AuditEntry) -> bool:
        """The filter, in Python; the SQL store says the same in its ``WHERE`` clause."""
        return (
            entry.seq > self.after_seq
            and (not self.events or any(_event_matches(entry.event, e) for e in self.events))
            and (self.actor is None or entry.actor == self.actor)
            and (self.subject is None or entry.subject == self.subject)
            and (self.since is None or entry.at >= self.since)
            and (self.until is None or entry.at < self.until)
            and (self.before is None or (to_micros(entry.at), entry.id) < self.before)
        )


def _event_matches(event: str, wanted: str) -> bool:
    if wanted.endswith(".*"):
        return event.startswith(wanted[:-1])
    return event == wanted


class MonitorStore(Protocol):
    #: Whether what is kept outlives the process (``memory://`` does not).
    persistent: bool

    def write(self, batch: Batch) -> Written:
        """Keep everything in ``batch``, all or nothing."""

    def decisions(self, query: DecisionQuery) -> Sequence[DecisionRecord]: ...

    def usage(self, query: UsageQuery) -> Sequence[UsagePoint]:
        """The buckets that have counts, oldest first."""

    def key_history(self, key_id: str, since: datetime) -> KeyHistory:
        """The key's networks, and its requests per minute from ``since``."""

    def alerts(self, query: AlertQuery) -> Sequence[Alert]: ...

    def close_alerts(self, kind: str, before: datetime, now: datetime) -> list[Alert]:
        """Close the open alerts of ``kind`` with no sign since ``before``; return them."""

    def audit_entries(self, query: AuditQuery) -> Sequence[AuditEntry]: ...

    def audit_head(self) -> AuditHead | None:
        """The last entry's place and HMAC; ``None`` for an empty log."""

    def audit_seq_of(self, mac: str) -> int | None:
        """The first entry whose HMAC is ``mac``, if any."""

    def prune(self, before: datetime) -> int:
        """Forget decision records and usage older than ``before``, networks unused for
        :data:`NETWORK_MEMORY`, and alerts closed before ``before``; say how many records."""

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
