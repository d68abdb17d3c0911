"""Rows of the monitor's tables ⇄ records, and the statements that read them."""

from __future__ import annotations

from collections.abc import Sequence

from policyengine.db import Row
from policyengine.db.where import Where
from policyengine.decision import Code
from policyengine.errors import StorageError
from policyengine.keys.codec import from_micros, optional_micros
from policyengine.monitor.records import DecisionRecord
from policyengine.monitor.rows import COLUMNS, limits_from_text
from policyengine.monitor.schema import DECISIONS, DENIALS, USAGE
from policyengine.monitor.store import DecisionQuery
from policyengine.monitor.usage import Bucket, BucketKey, Step, UsagePoint, point

_COLUMNS = ", ".join(COLUMNS)
# Statements are assembled from the constant names above, never from input, which is
# always passed as parameters: hence the ``noqa: S608`` marks.
INSERT = (
    f"INSERT INTO {DECISIONS} ({_COLUMNS}) "  # noqa: S608
    f"VALUES ({', '.join('?' for _ in COLUMNS)})"
)


# A bucket written again adds its counts and keeps the least headroom.
ADD_USAGE = (
    f"INSERT INTO {USAGE} AS u (key_id, step, start, requests, allowed, credits, headroom) "  # noqa: S608
    "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (key_id, step, start) DO UPDATE SET "
    "requests = u.requests + excluded.requests, allowed = u.allowed + excluded.allowed, "
    "credits = u.credits + excluded.credits, headroom = CASE "
    "WHEN excluded.headroom IS NULL THEN u.headroom "
    "WHEN u.headroom IS NULL OR excluded.headroom < u.headroom THEN excluded.headroom "
    "ELSE u.headroom END"
)
ADD_DENIALS = (
    f"INSERT INTO {DENIALS} AS d (key_id, step, start, code, count) "  # noqa: S608
    "VALUES (?, ?, ?, ?, ?) ON CONFLICT (key_id, step, start, code) DO UPDATE SET "
    "count = d.count + excluded.count"
)
SELECT_USAGE = (
    f"SELECT start, requests, allowed, credits, headroom FROM {USAGE} "  # noqa: S608
    "WHERE key_id = ? AND step = ? AND start >= ? AND start < ? ORDER BY start"
)
SELECT_DENIALS = (
    f"SELECT start, code, count FROM {DENIALS} "  # noqa: S608
    "WHERE key_id = ? AND step = ? AND start >= ? AND start < ?"
)


def decision_from_row(row: Row) -> DecisionRecord:
    value = dict(zip(COLUMNS, row, strict=True))
    try:
        return DecisionRecord(
            id=value["id"],
            at=from_micros(int(value["at"])),
            request_id=value["request_id"],
            code=Code(value["code"]),
            step=value["step"],
            reason=value["reason"],
            credential=value["credential"],
            key_id=value["key_id"],
            key_type=value["key_type"],
            key_environment=value["key_environment"],
            key_expires_at=None
            if value["key_expires_at"] is None
            else from_micros(int(value["key_expires_at"])),
            method=value["method"],
            path=value["path"],
            resource=value["resource"],
            action=value["action"],
            client=value["client"],
            rule=value["rule"],
            rule_location=value["rule_location"],
            error=value["error"],
            latency=int(value["latency_us"]) / 1e6,
            limits=limits_from_text(value["limits"]),
            environment=value["environment"],
            policy=value["policy"],
        )
    except (TypeError, ValueError) as error:
        raise StorageError(f"the decision record {value['id']!r} is unreadable: {error}") from None


def decisions_statement(query: DecisionQuery) -> tuple[str, list[object]]:
    where = Where()
    if query.keyless:
        where.add("key_id IS NULL")
    elif query.request_id is None:
        where.add("key_id = ?", query.key_id)
    else:
        # `|| ''` keeps the planner off the key's index, which the ORDER BY makes look
        # cheap: the request id's index finds a request at once, the key's walks them all.
        where.add("key_id || '' = ?", query.key_id)
    where.given("client = ?", query.client).given("action = ?", query.action)
    where.given("request_id = ?", query.request_id)
    where.given("at >= ?", optional_micros(query.since))
    where.given("at < ?", optional_micros(query.until))
    where.one_of("code", query.codes).before("at", "id", query.after)
    return (
        f"SELECT {_COLUMNS} FROM {DECISIONS}{where.sql()} "  # noqa: S608
        "ORDER BY at DESC, id DESC LIMIT ?",
        [*where.params, query.limit],
    )


def usage_rows(
    buckets: Sequence[tuple[BucketKey, Bucket]],
) -> tuple[list[Sequence[object]], list[Sequence[object]]]:
    """The rows :data:`ADD_USAGE` and :data:`ADD_DENIALS` add, in key order, so that two
    processes adding at once lock rows in one order."""
    ordered = sorted(buckets)
    usage: list[Sequence[object]] = [
        (*key, b.requests, b.allowed, b.credits, b.headroom) for key, b in ordered
    ]
    denials: list[Sequence[object]] = [
        (*key, code, count) for key, b in ordered for code, count in sorted(b.denied.items())
    ]
    return usage, denials


def usage_points(step: Step, rows: Sequence[Row], denials: Sequence[Row]) -> list[UsagePoint]:
    denied: dict[int, dict[str, int]] = {}
    for start, code, count in denials:
        denied.setdefault(int(start), {})[str(code)] = int(count)
    return [
        point(
            step,
            int(start),
            Bucket(
                int(requests),
                int(allowed),
                int(credits),
                None if headroom is None else float(headroom),
                denied.get(int(start), {}),
            ),
        )
        for start, requests, allowed, credits, headroom in rows
    ]
