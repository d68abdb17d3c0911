"""``engine.monitor.audit``: the audit log's face — verify it, export it, print its head,
and record an application's own administrative actions in it.

The engine writes key lifecycle events, policy loads and raised alerts itself; they go
through the monitor's queue like everything else (never dropped) and are sealed into the
chain when the writer writes them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import datetime

from policyengine.errors import MonitorError
from policyengine.monitor import pages
from policyengine.monitor.audit import ENGINE_GROUPS, AuditDraft, AuditEntry, AuditHead, Chain
from policyengine.monitor.store import AuditQuery, MonitorStore
from policyengine.monitor.verify import Verification, verify

_EVENT = re.compile(r"[a-z][a-z0-9_-]*(\.[a-z][a-z0-9_-]*)*")
_PATTERN = re.compile(r"[a-z][a-z0-9_-]*(\.[a-z][a-z0-9_-]*)*(\.\*)?")
_CHUNK = 1000


class AuditLog:
    def __init__(
        self,
        store: MonitorStore,
        chain: Chain,
        clock: Callable[[], datetime],
        put: Callable[[AuditDraft], None],
    ) -> None:
        self._store = store
        self._chain = chain
        self._clock = clock
        self._put = put

    def head(self) -> AuditHead | None:
        """The last entry's place and HMAC (``None`` while the log is empty). Keep it
        somewhere the database's writers cannot reach, and pass it to :meth:`verify` later:
        a log cut short of it is caught."""
        return self._store.audit_head()

    def verify(self, head: AuditHead | str | None = None) -> Verification:
        """Check every entry's HMAC and link, in order; say where the first change,
        deletion, insertion or reordering shows, or that the log ends short of ``head``."""
        expected = AuditHead.parse(head) if isinstance(head, str) else head
        return verify(_Source(self._store), self._chain, expected)

    def export(
        self,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        event: str | Iterable[str] | None = None,
        actor: str | None = None,
        subject: str | None = None,
    ) -> Iterator[AuditEntry]:
        """The entries in the log's order, from ``since`` to ``until``, of the given events
        (``key.revoked``, or a group such as ``key.*``), by ``actor``, about ``subject``."""
        pages.check_range(since, until)
        events = (event,) if isinstance(event, str) else tuple(event or ())
        for wanted in events:
            if not _PATTERN.fullmatch(wanted):
                raise MonitorError(f"{wanted!r} is not an event name, nor a group such as key.*")
        after = 0
        while True:
            query = AuditQuery(_CHUNK, after, False, None, events, actor, subject, since, until)
            chunk = self._store.audit_entries(query)
            yield from chunk
            if len(chunk) < _CHUNK:
                return
            after = chunk[-1].seq

    def record(
        self,
        event: str,
        *,
        actor: str,
        subject: str = "",
        details: Mapping[str, object] | None = None,
    ) -> None:
        """Note an administrative action of the application's own (``hook.created``, a
        setting changed) as ``admin.<event>``, by ``actor``, about ``subject``. It is
        written with the monitor's next batch (``engine.flush()`` to wait for it)."""
        if not isinstance(event, str) or not _EVENT.fullmatch(event):
            raise MonitorError(
                "an event is lower-case words joined by dots, such as 'hook.created'"
            )
        if event.partition(".")[0] in (*ENGINE_GROUPS, "admin"):
            raise MonitorError(
                f"{event!r} names an event the engine writes itself; name the action, "
                "such as 'hook.created', and it is recorded as admin.hook.created"
            )
        if not isinstance(actor, str) or not actor.strip():
            raise MonitorError("actor must name who did it, such as 'key:key_…' or 'cli:alice'")
        self._put(
            AuditDraft(f"admin.{event}", actor.strip(), subject, self._clock(), details or {})
        )


class _Source:
    """The store as verification reads it."""

    def __init__(self, store: MonitorStore) -> None:
        self._store = store

    def audit_entries(self, after: int, limit: int) -> Sequence[AuditEntry]:
        return self._store.audit_entries(AuditQuery(limit, after))

    def audit_seq_of(self, mac: str) -> int | None:
        return self._store.audit_seq_of(mac)
