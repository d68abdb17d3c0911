"""Key records as plain JSON values, for the SQL stores' columns and the command line."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar, cast

from policyengine.record import KeyRecord, Refill, Usage
from policyengine.units import Rate, make_rate

T = TypeVar("T")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def to_micros(moment: datetime) -> int:
    """Microseconds since the epoch, exactly (a float timestamp would round)."""
    return (moment - EPOCH) // _MICROSECOND


def from_micros(micros: int) -> datetime:
    return EPOCH + timedelta(microseconds=micros)


def optional_micros(moment: datetime | None) -> int | None:
    return None if moment is None else to_micros(moment)


def optional_moment(micros: int | None) -> datetime | None:
    return None if micros is None else from_micros(micros)


def rates_to_json(rates: Mapping[str, Rate]) -> dict[str, dict[str, float]]:
    return {
        name: {"limit": rate.limit, "period": rate.period, "burst": rate.burst}
        for name, rate in sorted(rates.items())
    }


def rates_from_json(data: Mapping[str, Mapping[str, Any]]) -> dict[str, Rate]:
    return {
        name: make_rate(int(rate["limit"]), float(rate["period"]), int(rate["burst"]))
        for name, rate in data.items()
    }


def usage_to_json(usage: Usage | None) -> dict[str, object] | None:
    return None if usage is None else {"credits": usage.credits, "refill": usage.refill}


def usage_from_json(data: Mapping[str, Any] | None) -> Usage | None:
    if data is None:
        return None
    return Usage(int(data["credits"]), cast(Refill, data["refill"]))


#: How many distinct values of each kind decoded rows share (see :func:`shared`).
SHARED_VALUES = 4096
_shared: dict[tuple[str, str], object] = {}


def shared(kind: str, text: str, build: Callable[[str], T]) -> T:
    """``build(text)``, the same object for the same text: the thousands of records a
    lookup cache holds repeat a few types, scopes and limits, and each copy costs memory.
    What is shared is immutable (strings, tuples, :class:`ReadOnlyDict`)."""
    key = (kind, text)
    found = _shared.get(key)
    if found is None:
        found = build(text)
        if len(_shared) < SHARED_VALUES:
            _shared[key] = found
    return cast(T, found)


def dumps(value: object) -> str:
    """Compact, key-sorted JSON, so that equal values are stored as equal text."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def record_to_json(record: KeyRecord, now: datetime | None = None) -> dict[str, object]:
    """What the command line prints for a key; with ``now``, its state at that instant too."""

    def moment(value: datetime | None) -> str | None:
        return None if value is None else value.isoformat()

    data: dict[str, object] = {
        "id": record.id,
        "display": record.display,
        "type": record.type,
        "label": record.label,
        "environment": record.environment,
        "prefix": record.prefix,
        "last4": record.last4,
        "created_at": moment(record.created_at),
        "expires_at": moment(record.expires_at),
        "scopes": list(record.scopes),
        "allowed_ips": list(record.allowed_ips),
        "rate_limits": {name: str(rate) for name, rate in sorted(record.rate_limits.items())},
        "usage": usage_to_json(record.usage),
        "metadata": dict(sorted(record.metadata.items())),
        "disabled": record.disabled,
        "revoked_at": moment(record.revoked_at),
        "rotated_to": record.rotated_to,
        "rotated_from": record.rotated_from,
        "lineage": record.lineage,
        "grace_until": moment(record.grace_until),
        "last_used_at": moment(record.last_used_at),
    }
    if now is not None:
        data["state"] = record.state(now)
    return data
