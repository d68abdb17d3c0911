"""The detectors' memory and the alerts, in SQL: what the store runs inside a transaction."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime

from policyengine.db import Row, Run
from policyengine.db.where import Where
from policyengine.errors import StorageError
from policyengine.keys.codec import from_micros, optional_micros, optional_moment, to_micros
from policyengine.monitor.alerts import Alert, AlertChange, added_to
from policyengine.monitor.history import KeyHistory
from policyengine.monitor.schema import ALERTS, NETWORKS, USAGE
from policyengine.monitor.store import AlertQuery, Written

# Statements are assembled from constant names, never from input, which is always passed
# as parameters: hence the ``noqa: S608`` marks.
ADD_NETWORK = (
    f"INSERT INTO {NETWORKS} AS n (key_id, network, first_seen, last_seen) "  # noqa: S608
    "VALUES (?, ?, ?, ?) ON CONFLICT (key_id, network) DO UPDATE SET "
    "first_seen = CASE WHEN excluded.first_seen < n.first_seen "
    "THEN excluded.first_seen ELSE n.first_seen END, "
    "last_seen = CASE WHEN excluded.last_seen > n.last_seen "
    "THEN excluded.last_seen ELSE n.last_seen END"
)
_FIELDS = (
    "id", "kind", "severity", "subject", "subject_type", "message", "evidence",
    "first_seen", "last_seen", "count", "state", "closed_at",
)  # fmt: skip
_COLUMNS = ", ".join(_FIELDS)
_INSERT = f"INSERT INTO {ALERTS} ({_COLUMNS}) VALUES ({', '.join('?' for _ in _FIELDS)})"  # noqa: S608
_OPEN = f"SELECT {_COLUMNS} FROM {ALERTS} WHERE kind = ? AND subject = ? AND state = 'open'"  # noqa: S608
_ADD = (
    f"UPDATE {ALERTS} SET message = ?, evidence = ?, count = count + ?, "  # noqa: S608
    "last_seen = CASE WHEN last_seen > ? THEN last_seen ELSE ? END "
    "WHERE id = ? AND state = 'open'"
)
_CLOSE = (
    f"UPDATE {ALERTS} SET state = 'closed', closed_at = ? "  # noqa: S608
    f"WHERE kind = ? AND state = 'open' AND last_seen <= ? RETURNING {_COLUMNS}"
)


def add_networks(run: Run, networks: Mapping[tuple[str, str], tuple[datetime, datetime]]) -> None:
    run.many(
        ADD_NETWORK,
        [
            (key_id, network, to_micros(first), to_micros(last))
            for (key_id, network), (first, last) in sorted(networks.items())
        ],
    )


def key_history(run: Run, key_id: str, since: datetime) -> KeyHistory:
    networks, _ = run(
        f"SELECT network, first_seen, last_seen FROM {NETWORKS} WHERE key_id = ?",  # noqa: S608
        (key_id,),
    )
    minutes, _ = run(
        f"SELECT start, requests FROM {USAGE} "  # noqa: S608
        "WHERE key_id = ? AND step = 'minute' AND start >= ?",
        (key_id, to_micros(since)),
    )
    return KeyHistory(
        {
            str(net): (from_micros(int(first)), from_micros(int(last)))
            for net, first, last in networks
        },
        {int(start): int(requests) for start, requests in minutes},
    )


def write_alerts(run: Run, changes: list[AlertChange]) -> Written:
    """Open each new alert, unless one of its kind is open for its subject already (then
    add to that one); add later signs to the alerts they belong to."""
    written = Written()
    for change in changes:
        alert = change.alert
        evidence = evidence_text(alert.evidence)
        last = to_micros(alert.last_seen)
        if not change.new:
            _, count = run(_ADD, (alert.message, evidence, change.added, last, last, alert.id))
            if count == 1:
                continue
        rows, _ = run(_OPEN, (alert.kind, alert.subject))
        if rows:
            stored = alert_from_row(rows[0])
            run(_ADD, (alert.message, evidence, change.added, last, last, stored.id))
            written.adopted.append(added_to(stored, alert, change.added))
            continue
        raised = replace(alert, count=change.added)
        run(_INSERT, alert_row(raised))
        written.raised.append(raised)
    return written


def close_alerts(run: Run, kind: str, before: datetime, now: datetime) -> list[Alert]:
    rows, _ = run(_CLOSE, (to_micros(now), kind, to_micros(before)))
    return [alert_from_row(row) for row in rows]


def alerts_statement(query: AlertQuery) -> tuple[str, list[object]]:
    where = Where().given("state = ?", query.state).given("severity = ?", query.severity)
    where.given("subject = ?", query.subject)
    where.given("last_seen >= ?", optional_micros(query.since))
    where.given("first_seen < ?", optional_micros(query.until))
    where.one_of("kind", query.kinds).before("first_seen", "id", query.after)
    return (
        f"SELECT {_COLUMNS} FROM {ALERTS}{where.sql()} "  # noqa: S608
        "ORDER BY first_seen DESC, id DESC LIMIT ?",
        [*where.params, query.limit],
    )


def evidence_text(evidence: Mapping[str, object]) -> str:
    return json.dumps(dict(evidence), sort_keys=True, separators=(",", ":"), default=str)


def alert_row(alert: Alert) -> tuple[object, ...]:
    return (
        alert.id,
        alert.kind,
        alert.severity,
        alert.subject,
        alert.subject_type,
        alert.message,
        evidence_text(alert.evidence),
        to_micros(alert.first_seen),
        to_micros(alert.last_seen),
        alert.count,
        alert.state,
        None if alert.closed_at is None else to_micros(alert.closed_at),
    )


def alert_from_row(row: Row) -> Alert:
    value = dict(zip(_FIELDS, row, strict=True))
    try:
        return Alert(
            str(value["id"]),
            str(value["kind"]),
            value["severity"],
            str(value["subject"]),
            value["subject_type"],
            str(value["message"]),
            json.loads(value["evidence"]),
            from_micros(int(value["first_seen"])),
            from_micros(int(value["last_seen"])),
            int(value["count"]),
            value["state"],
            optional_moment(None if value["closed_at"] is None else int(value["closed_at"])),
        )
    except (TypeError, ValueError) as error:
        raise StorageError(f"the alert {value['id']!r} is unreadable: {error}") from None
