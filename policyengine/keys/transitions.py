"""Which changes a key admits in which state, and what each change makes of its record.

Revoked and expired keys are final: nothing brings them back. A rotated key (in its
grace period) may still be disabled, enabled or revoked, but its attributes now live on
its successor. Each function returns the changed record, ``None`` when the change is
already in effect (so that repeating it is harmless), or raises :class:`KeyConflict`.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from policyengine.errors import KeyConflict
from policyengine.record import KeyRecord


def require_live(record: KeyRecord, now: datetime, action: str) -> None:
    state = record.state(now)
    if state in ("revoked", "expired"):
        raise KeyConflict(
            f"key {record.id} is {state}, so it cannot be {action}; create a new key instead"
        )


def disabled(record: KeyRecord, now: datetime) -> KeyRecord | None:
    require_live(record, now, "disabled")
    return None if record.disabled else replace(record, disabled=True)


def enabled(record: KeyRecord, now: datetime) -> KeyRecord | None:
    require_live(record, now, "enabled")
    return replace(record, disabled=False) if record.disabled else None


def revoked(record: KeyRecord, now: datetime) -> KeyRecord | None:
    if record.revoked_at is not None and record.revoked_at <= now:
        return None
    # Revoking also ends a rotation grace period early. The revocation is announced as it
    # happens, so the sweep that announces passive ends must not announce it again.
    return replace(record, revoked_at=now, end_announced=True)


def require_updatable(record: KeyRecord, now: datetime) -> None:
    require_live(record, now, "updated")
    if record.rotated_to is not None:
        raise KeyConflict(
            f"key {record.id} was rotated to {record.rotated_to}; update that key instead"
        )


def require_rotatable(record: KeyRecord, now: datetime) -> None:
    require_live(record, now, "rotated")
    if record.rotated_to is not None:
        raise KeyConflict(
            f"key {record.id} was already rotated to {record.rotated_to}; rotate that key instead"
        )
    if record.disabled:
        raise KeyConflict(
            f"key {record.id} is disabled; enable it before rotating it, or revoke it"
        )


def retired(old: KeyRecord, successor: str, now: datetime, grace: timedelta) -> KeyRecord:
    """``old`` once rotated: it works until the grace period ends, then counts as revoked."""
    end = now + grace
    return replace(old, rotated_to=successor, grace_until=end, revoked_at=end)
