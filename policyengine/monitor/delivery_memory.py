"""``memory://``: a delivery log for one process and its lifetime (tests, demos)."""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from policyengine.keys.codec import EPOCH
from policyengine.monitor.delivery_log import (
    DELIVERY_STATES,
    WAITING,
    Attempt,
    Claim,
    Delivery,
    DeliveryError,
    DeliveryNotFound,
    DeliveryQuery,
    DeliveryState,
    Outcome,
)


@dataclass(slots=True)
class _Entry:
    delivery: Delivery
    attempts: list[Attempt] = field(default_factory=list)
    owner: str | None = None
    lease_until: datetime | None = None

    def leased(self, now: datetime) -> bool:
        return self.lease_until is not None and self.lease_until > now

    def view(self) -> Delivery:
        return replace(self.delivery, attempts=tuple(self.attempts))


class MemoryDeliveryLog:
    def __init__(self) -> None:
        self._entries: dict[str, _Entry] = {}
        self._lock = threading.Lock()

    def add(self, delivery: Delivery) -> bool:
        with self._lock:
            if delivery.id in self._entries:
                return False
            self._entries[delivery.id] = _Entry(replace(delivery, attempts=()))
            return True

    def claim(self, now: datetime, lease_until: datetime, owner: str, limit: int) -> list[Claim]:
        with self._lock:
            due = sorted(
                (
                    entry
                    for entry in self._entries.values()
                    if entry.delivery.state in WAITING
                    and entry.delivery.next_attempt_at is not None
                    and entry.delivery.next_attempt_at <= now
                    and not entry.leased(now)
                ),
                key=lambda entry: (entry.delivery.next_attempt_at, entry.delivery.id),
            )[:limit]
            for entry in due:
                entry.owner, entry.lease_until = owner, lease_until
            return [Claim(entry.view(), owner, lease_until) for entry in due]

    def finish(self, claim: Claim, attempt: Attempt, outcome: Outcome) -> None:
        with self._lock:
            entry = self._entries.get(claim.delivery.id)
            if entry is None:
                return
            entry.attempts.append(replace(attempt, number=len(entry.attempts) + 1))
            if entry.owner != claim.owner:
                return
            entry.owner = entry.lease_until = None
            entry.delivery = replace(
                entry.delivery,
                state=outcome.state,
                tries=outcome.tries,
                next_attempt_at=outcome.next_attempt_at,
                delivered_at=outcome.delivered_at,
            )

    def release(self, claims: Sequence[Claim]) -> None:
        with self._lock:
            for claim in claims:
                entry = self._entries.get(claim.delivery.id)
                if entry is not None and entry.owner == claim.owner:
                    entry.owner = entry.lease_until = None

    def requeue(self, delivery_id: str, now: datetime) -> Delivery:
        with self._lock:
            entry = self._entries.get(delivery_id)
            if entry is None:
                raise DeliveryNotFound(f"no delivery {delivery_id!r}")
            if entry.leased(now):
                raise DeliveryError(
                    f"delivery {delivery_id!r} is being attempted now; replay it afterwards"
                )
            entry.owner = entry.lease_until = None
            entry.delivery = replace(
                entry.delivery, state="pending", tries=0, next_attempt_at=now, delivered_at=None
            )
            return entry.view()

    def get(self, delivery_id: str) -> Delivery | None:
        with self._lock:
            entry = self._entries.get(delivery_id)
            return None if entry is None else entry.view()

    def list(self, query: DeliveryQuery) -> Sequence[Delivery]:
        with self._lock:
            found = [e.view() for e in self._entries.values() if query.matches(e.delivery)]
        found.sort(key=lambda delivery: (delivery.created_at, delivery.id), reverse=True)
        return found[: query.limit]

    def counts(self, target: str | None) -> Mapping[DeliveryState, int]:
        counts = dict.fromkeys(DELIVERY_STATES, 0)
        with self._lock:
            for entry in self._entries.values():
                if target is None or entry.delivery.target == target:
                    counts[entry.delivery.state] += 1
        return counts

    def next_due(self) -> datetime | None:
        with self._lock:
            due = [
                max(entry.delivery.next_attempt_at, entry.lease_until or EPOCH)
                for entry in self._entries.values()
                if entry.delivery.state in WAITING and entry.delivery.next_attempt_at is not None
            ]
        return min(due, default=None)

    def prune(self, before: datetime) -> int:
        with self._lock:
            old = [
                delivery_id
                for delivery_id, entry in self._entries.items()
                if entry.delivery.state not in WAITING and entry.delivery.created_at < before
            ]
            for delivery_id in old:
                del self._entries[delivery_id]
        return len(old)

    def close(self) -> None:
        """Nothing to release: the deliveries end with the process."""
