"""Alerts: what the detectors found, deduplicated while it lasts.

A detector reports a :class:`Sign`; the first sign of a kind for a subject (a key, or a
client address) opens an :class:`Alert`, and later signs while it is open add to it —
its count, its last sighting, its latest evidence — instead of raising another. An alert
with no new sign for its kind's ``quiet`` period is over (closed).
"""

from __future__ import annotations

import itertools
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from types import MappingProxyType
from typing import Literal

from policyengine.monitor.audit import AuditDraft
from policyengine.policy.alerts import AlertSettings, Severity

SubjectType = Literal["key", "address"]
AlertState = Literal["open", "closed"]
ALERT_STATES: tuple[AlertState, ...] = ("open", "closed")

#: Evidence is JSON: numbers, strings, booleans, and lists and mappings of them.
Evidence = Mapping[str, object]


@dataclass(frozen=True, slots=True)
class Sign:
    """One detector's finding: a reason to think that ``kind`` holds for ``subject``."""

    kind: str
    subject: str
    subject_type: SubjectType
    at: datetime
    message: str
    evidence: Evidence = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Alert:
    id: str
    kind: str
    severity: Severity
    #: The key id, or the client address.
    subject: str
    subject_type: SubjectType
    #: What was found, in a sentence, as of the latest sign.
    message: str
    #: The latest sign's counts, window, baseline and so on.
    evidence: Evidence
    first_seen: datetime
    last_seen: datetime
    #: How many signs it has had.
    count: int = 1
    state: AlertState = "open"
    closed_at: datetime | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "evidence", MappingProxyType(dict(self.evidence)))

    def as_dict(self) -> dict[str, object]:
        return {
            "id": self.id,
            "kind": self.kind,
            "severity": self.severity,
            "subject": self.subject,
            "subject_type": self.subject_type,
            "message": self.message,
            "evidence": dict(self.evidence),
            "first_seen": self.first_seen.isoformat(),
            "last_seen": self.last_seen.isoformat(),
            "count": self.count,
            "state": self.state,
            "closed_at": self.closed_at.isoformat() if self.closed_at else None,
        }


@dataclass(frozen=True, slots=True)
class AlertChange:
    """What to write of an alert: a new one (``added`` is its count), or more signs of an
    open one. A store that already holds an open alert of the same kind for the same
    subject (another process raised it) adds to that one instead of opening another."""

    alert: Alert
    new: bool
    added: int


class AlertBook:
    """The alerts this process has open, and the signs that add to them."""

    def __init__(self) -> None:
        self._open: dict[tuple[str, str], Alert] = {}
        stem = f"alr_{secrets.token_hex(6)}"
        self._ids = (f"{stem}{n:016x}" for n in itertools.count())

    def add(self, signs: list[Sign], settings: Mapping[str, AlertSettings]) -> list[AlertChange]:
        changes: dict[tuple[str, str], AlertChange] = {}
        for sign in signs:
            key = (sign.kind, sign.subject)
            current = self._open.get(key)
            earlier = changes.get(key)
            if current is None:
                alert = Alert(
                    next(self._ids),
                    sign.kind,
                    settings[sign.kind].severity,
                    sign.subject,
                    sign.subject_type,
                    sign.message,
                    sign.evidence,
                    sign.at,
                    sign.at,
                )
                change = AlertChange(alert, True, 1)
            else:
                alert = replace(
                    current,
                    message=sign.message,
                    evidence=sign.evidence,
                    last_seen=max(current.last_seen, sign.at),
                    count=current.count + 1,
                )
                change = AlertChange(
                    alert,
                    earlier.new if earlier else False,
                    (earlier.added if earlier else 0) + 1,
                )
            self._open[key] = alert
            changes[key] = change
        return list(changes.values())

    def adopt(self, stored: Alert) -> None:
        """The alert as the store holds it, when it added to one another process opened."""
        self._open[(stored.kind, stored.subject)] = stored

    def forget(self, kind: str, before: datetime) -> None:
        """Drop open alerts of ``kind`` with no sign since ``before``: they are over."""
        for key, alert in list(self._open.items()):
            if alert.kind == kind and alert.last_seen <= before:
                del self._open[key]


def added_to(stored: Alert, alert: Alert, added: int) -> Alert:
    """``stored``, an open alert, with ``added`` more signs, the latest as in ``alert``."""
    return replace(
        stored,
        message=alert.message,
        evidence=alert.evidence,
        last_seen=max(stored.last_seen, alert.last_seen),
        count=stored.count + added,
    )


def raised_entry(alert: Alert) -> AuditDraft:
    """What the audit log keeps of a raised alert."""
    return AuditDraft(
        "alert.raised",
        "system",
        alert.subject,
        alert.first_seen,
        {
            "alert_id": alert.id,
            "kind": alert.kind,
            "severity": alert.severity,
            "message": alert.message,
            "evidence": dict(alert.evidence),
        },
    )
