"""The monitor's queries: a key's activity, requests without a valid key, usage, alerts.

These are what the command line, the HTTP API and the portal ask; each checks its
arguments (a bad one is a :class:`~policyengine.errors.MonitorError`, never a partial
answer) and pages by an opaque cursor.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Protocol, TypeVar

from policyengine.errors import MonitorError
from policyengine.keys.codec import from_micros, to_micros
from policyengine.monitor import pages
from policyengine.monitor.alerts import ALERT_STATES, Alert, AlertState
from policyengine.monitor.audit import AuditEntry
from policyengine.monitor.pages import DEFAULT_LIMIT, Page
from policyengine.monitor.records import DecisionRecord
from policyengine.monitor.store import (
    AlertQuery,
    AuditQuery,
    DecisionQuery,
    MonitorStore,
    UsageQuery,
)
from policyengine.monitor.usage import DEFAULT_SPANS, STEPS, Step, UsagePoint
from policyengine.net import format_ip, parse_ip
from policyengine.policy.alerts import ALERT_KINDS, SEVERITIES


class _Positioned(Protocol):
    @property
    def at(self) -> datetime: ...

    @property
    def id(self) -> str: ...


T = TypeVar("T", bound=_Positioned)

#: What a key's activity lists: its decisions, and its lifecycle events from the audit
#: log; tell them apart by ``event`` (``decision``, ``key.created``, …).
Activity = DecisionRecord | AuditEntry


class MonitorQueries:
    _store: MonitorStore | None
    _clock: Callable[[], datetime]

    def activity(
        self,
        key_id: str,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        code: str | Iterable[str] | None = None,
        action: str | None = None,
        cursor: str | None = None,
        limit: int = DEFAULT_LIMIT,
    ) -> Page[Activity]:
        """What one key did and what was done to it, newest first, from ``since``
        (inclusive) to ``until`` (exclusive): its decision records and its lifecycle events
        (``key.created``, ``key.revoked``…, from the audit log). With ``code`` or
        ``action``, only the decisions of those codes and that action."""
        query = replace(
            self._query(since, until, code, action, cursor, limit),
            key_id=pages.check_key_id(key_id),
        )
        store = self._require()
        found: list[Activity] = [*store.decisions(query)]
        if not query.codes and query.action is None:
            events = AuditQuery(
                query.limit,
                newest_first=True,
                before=query.after,
                subject=query.key_id,
                events=("key.*",),
                since=since,
                until=until,
            )
            found += store.audit_entries(events)
            found.sort(key=lambda item: (item.at, item.id), reverse=True)
        return self._paged(found, query.limit - 1)

    def decisions(
        self,
        key_id: str,
        *,
        request_id: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        code: str | Iterable[str] | None = None,
        action: str | None = None,
        cursor: str | None = None,
        limit: int = DEFAULT_LIMIT,
    ) -> Page[DecisionRecord]:
        """One key's decision records alone, newest first; with ``request_id``, those of
        that request (a caller may send its own request id, so there may be several)."""
        if request_id is not None and not 0 < len(request_id) <= 200:
            raise MonitorError("request_id must be 1 to 200 characters")
        query = self._query(since, until, code, action, cursor, limit)
        return self._page(replace(query, key_id=pages.check_key_id(key_id), request_id=request_id))

    def address_activity(
        self,
        address: str | None = None,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        code: str | Iterable[str] | None = None,
        action: str | None = None,
        cursor: str | None = None,
        limit: int = DEFAULT_LIMIT,
    ) -> Page[DecisionRecord]:
        """Requests without a valid key (none, malformed, unknown), newest first: from one
        client ``address``, or from every address."""
        client = None
        if address is not None:
            try:
                client = format_ip(parse_ip(address))
            except ValueError:
                raise MonitorError("address must be an IPv4 or IPv6 address") from None
        query = self._query(since, until, code, action, cursor, limit)
        return self._page(replace(query, keyless=True, client=client))

    def usage(
        self,
        key_id: str,
        since: datetime | None = None,
        until: datetime | None = None,
        step: Step = "minute",
    ) -> list[UsagePoint]:
        """One key's use per ``step`` (``minute``, ``hour`` or ``day``, in UTC), oldest
        first: the buckets with any requests from the one that holds ``since`` to those
        that start before ``until``. By default ``until`` is the end of the current
        bucket and ``since`` an hour, a day or 30 days before now."""
        if step not in STEPS:
            raise MonitorError(f"step must be one of {', '.join(STEPS)}, not {step!r}")
        pages.check_range(since, until)
        size = STEPS[step]
        now = self._clock()
        end = until or from_micros(to_micros(now) // size * size + size)
        start = from_micros(to_micros(since or now - DEFAULT_SPANS[step]) // size * size)
        query = UsageQuery(pages.check_key_id(key_id), step, start, end)
        return list(self._require().usage(query))

    def alerts(
        self,
        *,
        state: AlertState | None = None,
        kind: str | Iterable[str] | None = None,
        severity: str | None = None,
        subject: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        cursor: str | None = None,
        limit: int = DEFAULT_LIMIT,
    ) -> Page[Alert]:
        """Alerts, newest first by when they were raised: ``open`` or ``closed`` ones, of
        the given kinds and severity, about one key id or address (``subject``), seen
        from ``since`` and raised before ``until``."""
        if state is not None and state not in ALERT_STATES:
            raise MonitorError(f"state must be open or closed, not {state!r}")
        kinds = (kind,) if isinstance(kind, str) else tuple(kind or ())
        for name in kinds:
            if name not in ALERT_KINDS:
                raise MonitorError(
                    f"unknown alert kind {name!r}: use one of {', '.join(ALERT_KINDS)}"
                )
        if severity is not None and severity not in SEVERITIES:
            raise MonitorError(f"severity must be one of {', '.join(SEVERITIES)}")
        pages.check_range(since, until)
        query = AlertQuery(
            pages.check_limit(limit) + 1,
            state,
            kinds,
            severity,
            subject,
            since,
            until,
            pages.check_cursor(cursor),
        )
        found = self._require().alerts(query)
        last = found[limit - 1] if len(found) > limit else None
        return pages.page_of(
            found, limit, pages.position(last.first_seen, last.id) if last else None
        )

    def _query(
        self,
        since: datetime | None,
        until: datetime | None,
        code: str | Iterable[str] | None,
        action: str | None,
        cursor: str | None,
        limit: int,
    ) -> DecisionQuery:
        pages.check_range(since, until)
        return DecisionQuery(
            limit=pages.check_limit(limit) + 1,  # one more says whether a next page exists
            since=since,
            until=until,
            codes=pages.check_codes(code),
            action=action,
            after=pages.check_cursor(cursor),
        )

    def _page(self, query: DecisionQuery) -> Page[DecisionRecord]:
        return self._paged(self._require().decisions(query), query.limit - 1)

    @staticmethod
    def _paged(found: Sequence[T], limit: int) -> Page[T]:
        """The first ``limit`` of ``found``, newest first by ``(at, id)``, and where the
        next page starts when there is more."""
        last = found[limit - 1] if len(found) > limit else None
        return pages.page_of(found, limit, pages.position(last.at, last.id) if last else None)

    def _require(self) -> MonitorStore:
        if self._store is None:
            raise MonitorError("monitoring is off: open the engine with monitor= a store URL")
        return self._store
