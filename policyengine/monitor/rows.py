"""Decision rows: what the writer makes of each captured check, and hands every reader.

A row is one flat tuple: the columns a SQL store inserts, in its order (:data:`COLUMNS`,
the first :data:`STORED` values), then what the stores round or encode and the readers
want whole — the moment and the key's expiry as datetimes, the latency in seconds and the
limits' headroom as ``(name, remaining, quota)`` tuples. A SQL store inserts the head of
the row as it is; the metrics, the usage tally and the detectors read the fields they
need by index; only the memory store, which answers queries from them, makes
:class:`DecisionRecord` s (:func:`record_of`). A tuple of plain values costs a fraction
of a record and its headroom objects to build, and the garbage collector stops walking
it after its first look.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from policyengine.decision import Code
from policyengine.limits.outcome import USAGE
from policyengine.monitor.records import DecisionRecord, Headroom

#: One decision; see the module's docstring and the index names below.
DecisionRow = tuple[Any, ...]
#: ``(name, remaining, quota)`` of one limit after the request, usage credits last.
Limit = tuple[str, int, int]

#: The stored columns, in a row's order.
COLUMNS = (
    "id", "at", "request_id", "code", "step", "reason", "credential", "key_id", "key_type",
    "key_environment", "key_expires_at", "method", "path", "resource", "action", "client", "rule",
    "rule_location", "error", "latency_us", "limits", "environment", "policy",
)  # fmt: skip
STORED = len(COLUMNS)

# Where each field is. ``AT`` and ``EXPIRES_US`` are µs since the epoch, ``CODE`` the
# code's value, ``LATENCY_US`` whole µs and ``LIMITS_TEXT`` :func:`limits_text`: as stored.
(
    ID, AT, REQUEST_ID, CODE, STEP, REASON, CREDENTIAL, KEY_ID, KEY_TYPE, KEY_ENVIRONMENT,
    EXPIRES_US, METHOD, PATH, RESOURCE, ACTION, CLIENT, RULE, RULE_LOCATION, ERROR, LATENCY_US,
    LIMITS_TEXT, ENVIRONMENT, POLICY,
) = range(STORED)  # fmt: skip
#: The moment (a datetime), the key's expiry (a datetime or ``None``), the latency in
#: seconds, and every limit after the request (a tuple of :data:`Limit`).
MOMENT, EXPIRES, LATENCY, LIMITS = range(STORED, STORED + 4)

OK = Code.OK.value


def limits_text(limits: Sequence[Limit]) -> str:
    """``default:599:600,usage:99:100``: limit names hold neither ``:`` nor ``,``."""
    if len(limits) == 1:
        name, remaining, quota = limits[0]
        return f"{name}:{remaining}:{quota}"
    return ",".join(f"{name}:{remaining}:{quota}" for name, remaining, quota in limits)


def limits_from_text(text: str) -> tuple[Headroom, ...]:
    found = []
    for item in text.split(",") if text else ():
        name, remaining, quota = item.split(":")
        found.append(Headroom(name, int(remaining), int(quota)))
    return tuple(found)


def tightest(limits: Sequence[Limit]) -> Limit | None:
    """The rate limit with the least fraction left (credits aside), as
    :attr:`DecisionRecord.headroom` finds it: the first of equals."""
    found: Limit | None = None
    least = 0.0
    for limit in limits:
        name, remaining, quota = limit
        if name == USAGE:
            continue
        fraction = remaining / quota if quota else 0.0
        if found is None or fraction < least:
            found, least = limit, fraction
    return found


def credits(limits: Sequence[Limit]) -> Limit | None:
    """The usage credits after the request, as :attr:`DecisionRecord.credits` finds them."""
    for limit in limits:
        if limit[0] == USAGE:
            return limit
    return None


def record_of(row: DecisionRow) -> DecisionRecord:
    """The record a row stands for, as the monitor's queries answer it."""
    return DecisionRecord(
        row[ID],
        row[MOMENT],
        row[REQUEST_ID],
        Code(row[CODE]),
        row[STEP],
        row[REASON],
        row[CREDENTIAL],
        row[KEY_ID],
        row[KEY_TYPE],
        row[KEY_ENVIRONMENT],
        row[EXPIRES],
        row[METHOD],
        row[PATH],
        row[RESOURCE],
        row[ACTION],
        row[CLIENT],
        row[RULE],
        row[RULE_LOCATION],
        row[ERROR],
        row[LATENCY],
        tuple(Headroom(*limit) for limit in row[LIMITS]),
        row[ENVIRONMENT],
        row[POLICY],
    )
