"""The audit log in SQL: appended to inside the writer's transaction, read in order."""

from __future__ import annotations

import json
from collections.abc import Sequence

from policyengine.db import Database, Row, Run
from policyengine.errors import StorageError
from policyengine.keys.codec import from_micros, to_micros
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
    where = ["seq > ?"]
    params: list[object] = [query.after_seq]
    for clause, value in (
        ("actor = ?", query.actor),
        ("subject = ?", query.subject),
        ("at >= ?", None if query.since is None else to_micros(query.since)),
        ("at < ?", None if query.until is None else to_micros(query.until)),
    ):
        if value is not None:
            where.append(clause)
            params.append(value)
    if query.events:
        alternatives = []
        for event in query.events:
            if event.endswith(".*"):
                alternatives.append("event LIKE ? ESCAPE '\\'")
                params.append(event[:-1].replace("_", "\\_") + "%")
            else:
                alternatives.append("event = ?")
                params.append(event)
        where.append(f"({' OR '.join(alternatives)})")
    if query.before is not None:
        at, entry_id = query.before
        # Within one instant, entries come before the position by their id, aud_<seq>.
        if entry_id.startswith("aud_") and entry_id[4:].isdigit():
            where.append("(at < ? OR (at = ? AND seq < ?))")
            params.extend([at, at, int(entry_id[4:])])
        elif entry_id > "aud_":
            where.append("at <= ?")
            params.append(at)
        else:
            where.append("at < ?")
            params.append(at)
    order = "at DESC, seq DESC" if query.newest_first else "seq"
    params.append(query.limit)
    return (
        f"SELECT {_COLUMNS} FROM {AUDIT} WHERE {' AND '.join(where)} "  # noqa: S608
        f"ORDER BY {order} LIMIT ?",
        params,
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
