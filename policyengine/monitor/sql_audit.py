"""The audit log in SQL: appended to inside the writer's transaction, read in order."""

from __future__ import annotations

import json
from collections.abc import Sequence

from policyengine.db import Database, Row, Run
from policyengine.db.where import Where
from policyengine.errors import StorageError
from policyengine.keys.codec import from_micros, optional_micros, to_micros
from policyengine.monitor.audit import AuditDraft, AuditEntry, AuditHead, Chain
from policyengine.monitor.schema import AUDIT
from policyengine.monitor.store import AuditQuery

# Statements are assembled from constant names, never from input, which is always passed
# as parameters: hence the ``noqa: S608`` marks.
_FIELDS = ("seq", "at", "event", "actor", "subject", "details", "prev", "mac")
_COLUMNS = ", ".join(_FIELDS)
_INSERT = f"INSERT INTO {AUDIT} ({_COLUMNS}) VALUES ({', '.join('?' for _ in _FIELDS)})"  # noqa: S608
_HEAD = f"SELECT seq, mac FROM {AUDIT} ORDER BY seq DESC LIMIT 1"  # noqa: S608
_SEQ_OF = f"SELECT min(seq) FROM {AUDIT} WHERE mac = ?"  # noqa: S608
# Every process appends under this one lock, so that each reads the head the last wrote.
_APPEND_LOCK = 0x706F6175  # "poau"


def append(
    run: Run, database: Database, chain: Chain, drafts: Sequence[AuditDraft]
) -> list[AuditEntry]:
    lock = database.exclusive(_APPEND_LOCK)
    if lock is not None:
        run(lock, ())
    entries = chain.seal(drafts, head(run))
    run.many(_INSERT, [_row(entry) for entry in entries])
    return entries


def head(run: Run) -> AuditHead | None:
    rows, _ = run(_HEAD, ())
    return AuditHead(int(rows[0][0]), str(rows[0][1])) if rows else None


def seq_of(run: Run, mac: str) -> int | None:
    rows, _ = run(_SEQ_OF, (mac,))
    return None if not rows or rows[0][0] is None else int(rows[0][0])


def entries_statement(query: AuditQuery) -> tuple[str, list[object]]:
    where = Where().add("seq > ?", query.after_seq)
    where.given("actor = ?", query.actor).given("subject = ?", query.subject)
    where.given("at >= ?", optional_micros(query.since))
    where.given("at < ?", optional_micros(query.until))
    if query.events:
        alternatives, patterns = [], []
        for event in query.events:
            if event.endswith(".*"):
                alternatives.append("event LIKE ? ESCAPE '\\'")
                patterns.append(event[:-1].replace("_", "\\_") + "%")
            else:
                alternatives.append("event = ?")
                patterns.append(event)
        where.add(f"({' OR '.join(alternatives)})", *patterns)
    if query.before is not None:
        at, entry_id = query.before
        # Within one instant, entries come before the position by their id, aud_<seq>.
        if entry_id.startswith("aud_") and entry_id[4:].isdigit():
            where.before("at", "seq", (at, int(entry_id[4:])))
        else:
            where.add("at <= ?" if entry_id > "aud_" else "at < ?", at)
    order = "at DESC, seq DESC" if query.newest_first else "seq"
    return (
        f"SELECT {_COLUMNS} FROM {AUDIT}{where.sql()} ORDER BY {order} LIMIT ?",  # noqa: S608
        [*where.params, query.limit],
    )


def _row(entry: AuditEntry) -> tuple[object, ...]:
    details = json.dumps(dict(entry.details), sort_keys=True, separators=(",", ":"))
    return (
        entry.seq,
        to_micros(entry.at),
        entry.event,
        entry.actor,
        entry.subject,
        details,
        entry.prev,
        entry.mac,
    )


def entry_from_row(row: Row) -> AuditEntry:
    value = dict(zip(_FIELDS, row, strict=True))
    try:
        return AuditEntry(
            int(value["seq"]),
            from_micros(int(value["at"])),
            str(value["event"]),
            str(value["actor"]),
            str(value["subject"]),
            json.loads(value["details"]),
            str(value["prev"]),
            str(value["mac"]),
        )
    except (TypeError, ValueError) as error:
        raise StorageError(f"the audit entry {value['seq']!r} is unreadable: {error}") from None
