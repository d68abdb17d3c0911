"""How the command line shows keys to a person: a table of keys and one key's details.
(``--json`` output comes from :func:`policyengine.keys.codec.record_to_json` instead.)"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from policyengine.cli.output import clip, details, moment, table
from policyengine.record import KeyRecord


def key_table(records: Sequence[KeyRecord], now: datetime) -> str:
    if not records:
        return "no keys"
    rows = [
        [
            record.id,
            record.display,
            record.type,
            record.environment,
            record.state(now),
            clip(record.label, 40),
            moment(record.expires_at, "never"),
            moment(record.last_used_at, "never"),
        ]
        for record in records
    ]
    headers = ("ID", "KEY", "TYPE", "ENV", "STATE", "LABEL", "EXPIRES", "LAST USED")
    return table(headers, rows)


def key_details(record: KeyRecord, now: datetime) -> str:
    fields: list[tuple[str, str]] = [
        ("id", record.id),
        ("key", record.display),
        ("state", record.state(now)),
        ("type", record.type),
        ("environment", record.environment),
        ("label", record.label),
        ("created", moment(record.created_at)),
        ("expires", moment(record.expires_at, "never")),
        ("last used", moment(record.last_used_at, "never")),
    ]
    if record.scopes:
        fields.append(("scopes", ", ".join(record.scopes)))
    fields.append(("allowed ips", ", ".join(record.allowed_ips) or "any"))
    for name, rate in sorted(record.rate_limits.items()):
        fields.append((f"rate limit {name}", str(rate)))
    if record.usage is not None:
        fields.append(("usage", f"{record.usage.credits} credits, refilled {record.usage.refill}"))
    for name, value in sorted(record.metadata.items()):
        fields.append((f"metadata {name}", value))
    if record.disabled:
        fields.append(("disabled", "yes"))
    if record.rotated_to is not None:
        fields.append(
            ("rotated to", f"{record.rotated_to} (grace until {moment(record.grace_until)})")
        )
    if record.rotated_from is not None:
        fields.append(("rotated from", record.rotated_from))
    if record.revoked_at is not None and record.revoked_at <= now:
        fields.append(("revoked", moment(record.revoked_at)))
    return details(fields)
