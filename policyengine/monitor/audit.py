"""The audit log's entries and the chain that links them.

Each entry carries an HMAC-SHA256, under a key derived from the server's secret, over
its content and the previous entry's HMAC. Whoever can write to the database but does
not hold the secret cannot change, remove, add or reorder entries without the chain
showing it (:mod:`policyengine.monitor.verify` says where), and a head noted down
earlier shows whether entries were cut off the end.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType

from policyengine.errors import MonitorError
from policyengine.keys.codec import to_micros

#: The link before the first entry.
GENESIS = "0" * 64
#: The format of what an HMAC covers; a new format would be a new number.
_VERSION = 1
#: Event groups the engine writes itself; an application's own actions go under ``admin``.
ENGINE_GROUPS = ("key", "policy", "alert")


@dataclass(frozen=True, slots=True)
class AuditDraft:
    """An entry before it has a place in the chain."""

    event: str
    actor: str
    subject: str
    at: datetime
    details: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class AuditEntry:
    #: Its place in the log, from 1.
    seq: int
    at: datetime
    #: ``key.created``, ``key.revoked``, ``policy.loaded``, ``alert.raised``, ``admin.…``
    event: str
    #: Who did it: ``app``, ``cli:alice``, ``key:key_…``, ``system``.
    actor: str
    #: What it was done to: a key id, a policy digest, an alert's subject.
    subject: str
    details: Mapping[str, object]
    #: The previous entry's HMAC (:data:`GENESIS` for the first), and this one's.
    prev: str
    mac: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "details", MappingProxyType(dict(self.details)))

    @property
    def id(self) -> str:
        return f"aud_{self.seq:016d}"

    def as_dict(self) -> dict[str, object]:
        return {
            "id": self.id,
            "seq": self.seq,
            "at": self.at.isoformat(),
            "event": self.event,
            "actor": self.actor,
            "subject": self.subject,
            "details": dict(self.details),
            "prev": self.prev,
            "mac": self.mac,
        }


@dataclass(frozen=True, slots=True)
class AuditHead:
    """The last entry's place and HMAC: note it down, and
    :meth:`~policyengine.monitor.audit_log.AuditLog.verify` will tell whether the log still
    reaches it."""

    seq: int
    mac: str

    def __str__(self) -> str:
        return f"{self.seq}:{self.mac}"

    @classmethod
    def parse(cls, text: str) -> AuditHead:
        seq, _, mac = str(text).strip().partition(":")
        if not seq.isdigit() or len(mac) != 64 or any(c not in "0123456789abcdef" for c in mac):
            raise MonitorError(
                "a head is the seq and HMAC that 'audit head' printed, such as 42:9f3a…"
            )
        return cls(int(seq), mac)


class Chain:
    """Seals drafts into entries, and checks an entry's HMAC."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    def __repr__(self) -> str:
        return "Chain(<key>)"

    def seal(self, drafts: Sequence[AuditDraft], head: AuditHead | None) -> list[AuditEntry]:
        """The entries that follow ``head`` (``None`` for an empty log)."""
        seq, prev = (head.seq, head.mac) if head is not None else (0, GENESIS)
        entries = []
        for draft in drafts:
            seq += 1
            mac = self.mac(draft.at, draft.event, draft.actor, draft.subject, draft.details, prev)
            entries.append(
                AuditEntry(
                    seq, draft.at, draft.event, draft.actor, draft.subject, draft.details, prev, mac
                )
            )
            prev = mac
        return entries

    def mac(
        self,
        at: datetime,
        event: str,
        actor: str,
        subject: str,
        details: Mapping[str, object],
        prev: str,
    ) -> str:
        content = [_VERSION, to_micros(at), event, actor, subject, dict(details), prev]
        message = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hmac.new(self._key, message.encode(), hashlib.sha256).hexdigest()

    def holds(self, entry: AuditEntry) -> bool:
        """Whether ``entry``'s HMAC is the one its content and link call for."""
        expected = self.mac(
            entry.at, entry.event, entry.actor, entry.subject, entry.details, entry.prev
        )
        return hmac.compare_digest(expected, entry.mac)
