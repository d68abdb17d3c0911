"""The delivery log: what a webhook delivery is, its attempts, and the store that keeps them.

A delivery is ``pending`` until its first attempt; a failed attempt makes it ``retrying``
until the next, and the last failed attempt of its schedule makes it ``dead``; an attempt
that gets a 2xx answer makes it ``delivered``. A worker *claims* a due delivery with a
lease; while the lease runs no other worker, in this process or another, may claim it,
and when it runs out (the worker died) the delivery is due again.

The store is chosen by URL like the key store: ``memory://``, ``sqlite:///path`` or
``postgresql://…``; it never holds a signing secret.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, Protocol

from policyengine.errors import ConfigError, MonitorError
from policyengine.monitor.hook_urls import redact_hook_url
from policyengine.monitor.pages import Page
from policyengine.redaction import redact

DeliveryState = Literal["pending", "retrying", "delivered", "dead"]
DELIVERY_STATES: tuple[DeliveryState, ...] = ("pending", "retrying", "delivered", "dead")
#: What the log is called in errors.
NOUN = "delivery log"
#: The states in which a delivery still waits for an attempt.
WAITING: tuple[DeliveryState, ...] = ("pending", "retrying")


class DeliveryError(MonitorError):
    """A delivery that cannot be queued or replayed as asked; nothing was changed."""

    code = "delivery_invalid"


class DeliveryNotFound(MonitorError, LookupError):
    code = "delivery_not_found"


@dataclass(frozen=True, slots=True)
class Attempt:
    """One POST: when it started, how long it took, the HTTP status if one came back, and
    what went wrong (``None`` for a delivered attempt)."""

    number: int
    started_at: datetime
    duration: float
    status: int | None
    error: str | None


@dataclass(frozen=True, slots=True)
class Delivery:
    """A webhook message to one target; ``body`` is exactly the JSON that is POSTed."""

    id: str
    target: str
    url: str
    event_type: str
    body: str
    state: DeliveryState
    created_at: datetime
    #: When the next attempt is due; ``None`` once delivered or dead.
    next_attempt_at: datetime | None
    delivered_at: datetime | None
    #: Attempts since the delivery was queued or last replayed (the schedule's position).
    tries: int
    attempts: tuple[Attempt, ...] = ()

    def __repr__(self) -> str:  # the URL as read back: its path may hold a credential
        return (
            f"Delivery(id={self.id!r}, target={self.target!r}, "
            f"url={redact_hook_url(self.url)!r}, event_type={self.event_type!r}, "
            f"state={self.state!r}, tries={self.tries}, attempts={len(self.attempts)})"
        )

    @property
    def payload(self) -> Any:
        """The ``data`` the delivery was queued with."""
        return json.loads(self.body)["data"]


#: One page of deliveries, newest first; ``next_cursor`` is ``None`` on the last one.
DeliveryPage = Page[Delivery]


@dataclass(frozen=True, slots=True)
class DeliveryQuery:
    limit: int
    target: str | None = None
    state: DeliveryState | None = None
    #: ``(created_at, id)`` of the previous page's last delivery.
    after: tuple[datetime, str] | None = None

    def matches(self, delivery: Delivery) -> bool:
        return (
            (self.target is None or delivery.target == self.target)
            and (self.state is None or delivery.state == self.state)
            and (self.after is None or (delivery.created_at, delivery.id) < self.after)
        )


@dataclass(frozen=True, slots=True)
class Claim:
    """A delivery a worker holds until ``lease_until``; ``owner`` names that hold."""

    delivery: Delivery
    owner: str
    lease_until: datetime


@dataclass(frozen=True, slots=True)
class Outcome:
    """What an attempt leaves: the new state, and when the next attempt is due."""

    state: DeliveryState
    tries: int
    next_attempt_at: datetime | None
    delivered_at: datetime | None


class DeliveryLog(Protocol):
    def add(self, delivery: Delivery) -> bool:
        """Store a new delivery; ``False`` (and no change) if its id is taken."""

    def claim(self, now: datetime, lease_until: datetime, owner: str, limit: int) -> list[Claim]:
        """Up to ``limit`` due deliveries that no live lease holds, oldest due first, each
        leased to ``owner`` until ``lease_until``; never one that another claim holds."""

    def finish(self, claim: Claim, attempt: Attempt, outcome: Outcome) -> None:
        """Log the attempt (its number is assigned here) and, if the claim still holds the
        lease, move the delivery to ``outcome`` and end the lease."""

    def release(self, claims: Sequence[Claim]) -> None:
        """End leases that were not used, so the deliveries are due again at once."""

    def requeue(self, delivery_id: str, now: datetime) -> Delivery:
        """Make a delivery ``pending`` and due ``now`` with a fresh schedule; raise
        :class:`DeliveryNotFound`, or :class:`DeliveryError` while an attempt holds it."""

    def get(self, delivery_id: str) -> Delivery | None: ...

    def list(self, query: DeliveryQuery) -> Sequence[Delivery]: ...

    def counts(self, target: str | None) -> Mapping[DeliveryState, int]: ...

    def next_due(self) -> datetime | None:
        """When the earliest waiting delivery is due (or its lease runs out, if later)."""

    def prune(self, before: datetime) -> int:
        """Remove the delivered and dead deliveries created before ``before``, with their
        attempts; return how many. Waiting deliveries are kept, however old."""

    def close(self) -> None: ...


def open_delivery_log(url: str) -> DeliveryLog:
    """The delivery log at ``url``: ``memory://``, ``sqlite:///path`` or ``postgresql://…``.
    A SQL log may share its database with the key store: its tables are its own."""
    scheme = url.partition("://")[0].lower() if isinstance(url, str) and "://" in url else ""
    if scheme == "memory":
        from policyengine.monitor.delivery_memory import MemoryDeliveryLog

        return MemoryDeliveryLog()
    if scheme == "sqlite":
        from policyengine.db.sqlite import SqliteDatabase, sqlite_path
        from policyengine.monitor.delivery_sql import SqlDeliveryLog

        return SqlDeliveryLog(SqliteDatabase(sqlite_path(url, NOUN), NOUN))
    if scheme in ("postgresql", "postgres"):
        from policyengine.db.postgres import PostgresDatabase
        from policyengine.monitor.delivery_sql import SqlDeliveryLog

        database = PostgresDatabase(url, NOUN, "policyengine-deliveries")
        return SqlDeliveryLog(database, skip_locked=True)
    raise ConfigError(
        f"unknown delivery log URL {redact(url)!r}: use memory://, sqlite:///path or postgresql://…"
    )
