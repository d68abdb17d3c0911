"""A key's attributes as a whole: what a caller asked for, parsed field by field, then
checked against what the key type demands (its maximum lifetime, its required fields);
and the key issued with them."""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from policyengine.errors import KeyRequestError
from policyengine.keys import validation as valid
from policyengine.keys.format import BASE62, KeyFormat
from policyengine.keys.pages import IssuedKey
from policyengine.policy.model import KeyType
from policyengine.record import Environment, KeyRecord, Usage
from policyengine.units import Rate, format_duration

#: The attributes, by their names in both ``KeyAttributes`` and ``KeyRecord``.
ATTRIBUTES = ("label", "expires_at", "scopes", "allowed_ips", "rate_limits", "usage", "metadata")


@dataclass(frozen=True, slots=True)
class KeyAttributes:
    """What a caller chooses about a key, apart from its type and environment."""

    label: str
    expires_at: datetime | None = None
    scopes: tuple[str, ...] = ()
    allowed_ips: tuple[str, ...] = ()
    rate_limits: dict[str, Rate] = field(default_factory=dict)
    usage: Usage | None = None
    metadata: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, record: KeyRecord) -> KeyAttributes:
        return cls(
            label=record.label,
            expires_at=record.expires_at,
            scopes=record.scopes,
            allowed_ips=record.allowed_ips,
            rate_limits=dict(record.rate_limits),
            usage=record.usage,
            metadata=dict(record.metadata),
        )


@dataclass(frozen=True, slots=True)
class Requested:
    """What a caller asked for, unparsed; ``None`` leaves an attribute as it was (or at its
    default, for a new key)."""

    label: str | None = None
    expires_in: str | timedelta | None = None
    allowed_ips: Iterable[str] | None = None
    rate_limit: str | Rate | None = None
    rate_limits: Mapping[str, str | Rate] | None = None
    scopes: Iterable[str] | None = None
    usage: Usage | None = None
    metadata: Mapping[str, str] | None = None

    def __post_init__(self) -> None:
        # Held as tuples, so that a change retried after a write conflict sees them whole
        # (an iterator would be spent); a lone string is left for validation to refuse.
        for name in ("allowed_ips", "scopes"):
            value = getattr(self, name)
            if isinstance(value, Iterable) and not isinstance(value, str | bytes):
                object.__setattr__(self, name, tuple(value))


def new_attributes(
    kind: KeyType, asked: Requested, now: datetime, key_format: KeyFormat
) -> KeyAttributes:
    """The attributes of a key of type ``kind`` created ``now``, checked against the type."""
    attributes = KeyAttributes(
        label=valid.label(asked.label, key_format),
        expires_at=valid.expiry(kind, asked.expires_in, now),
        scopes=valid.scopes(kind, asked.scopes),
        allowed_ips=valid.allowed_ips(asked.allowed_ips),
        rate_limits=valid.rate_limits(asked.rate_limit, asked.rate_limits),
        usage=valid.usage(asked.usage),
        metadata=valid.metadata(asked.metadata, key_format),
    )
    check(kind, attributes, now)
    return attributes


def changed_attributes(
    kind: KeyType, record: KeyRecord, asked: Requested, now: datetime, key_format: KeyFormat
) -> KeyAttributes:
    """``record``'s attributes with what was asked changed, checked against the type; the
    lifetime still counts from the key's creation."""
    old = KeyAttributes.of(record)
    limits = old.rate_limits
    if asked.rate_limit is not None or asked.rate_limits is not None:
        # Named limits replace the key's own wholesale; the default alone is merged.
        base = old.rate_limits if asked.rate_limits is None else {}
        limits = valid.rate_limits(asked.rate_limit, asked.rate_limits, base)
    new = KeyAttributes(
        label=old.label if asked.label is None else valid.label(asked.label, key_format),
        expires_at=(
            old.expires_at
            if asked.expires_in is None
            else valid.expiry(kind, asked.expires_in, now)
        ),
        scopes=old.scopes if asked.scopes is None else valid.scopes(kind, asked.scopes),
        allowed_ips=old.allowed_ips
        if asked.allowed_ips is None
        else valid.allowed_ips(asked.allowed_ips),
        rate_limits=limits,
        usage=old.usage if asked.usage is None else valid.usage(asked.usage),
        metadata=old.metadata
        if asked.metadata is None
        else valid.metadata(asked.metadata, key_format),
    )
    check(kind, new, record.created_at)
    return new


def check(kind: KeyType, attributes: KeyAttributes, created_at: datetime) -> None:
    """What the key type demands of a whole key: its lifetime and its required fields."""
    if kind.max_lifetime is not None:
        limit = _spoken(kind.max_lifetime)
        if attributes.expires_at is None:
            raise KeyRequestError(f"key type {kind.name!r} keys must expire, within {limit}")
        lifetime = (attributes.expires_at - created_at).total_seconds()
        if lifetime > kind.max_lifetime:
            raise KeyRequestError(
                f"a lifetime of {_spoken(lifetime)} is longer than key type {kind.name!r} "
                f"allows ({limit})"
            )
    for required in kind.requires:
        name = required.partition(".")[2] if required.startswith("metadata.") else None
        if required == "allowed_ips":
            present = bool(attributes.allowed_ips)
        elif required == "expires_at":
            present = attributes.expires_at is not None
        elif name:
            present = bool(attributes.metadata.get(name))
        else:
            raise KeyRequestError(
                f"key type {kind.name!r} requires {required!r}, which no key can set"
            )
        if not present:
            raise KeyRequestError(f"key type {kind.name!r} requires {required} to be set")


def _spoken(seconds: float) -> str:
    """Lifetimes in days, as people set them (``90 days``, not ``12w6d``)."""
    days, rest = divmod(seconds, 86400)
    if not rest and days:
        return f"{int(days)} day{'s' if days != 1 else ''}"
    return format_duration(seconds)


def successor_attributes(
    old: KeyRecord, kind: KeyType, expires_in: str | timedelta | None, now: datetime
) -> KeyAttributes:
    """The attributes of the key that replaces ``old``: the same, with a lifetime as long as
    ``old`` was given (or ``expires_in``) counted from ``now``, and checked against the
    key type as it is now."""
    if expires_in is not None or old.expires_at is None:
        expires_at = valid.expiry(kind, expires_in, now)
    else:
        expires_at = now + (old.expires_at - old.created_at)
    attributes = replace(KeyAttributes.of(old), expires_at=expires_at)
    check(kind, attributes, now)
    return attributes


def with_attributes(record: KeyRecord, attributes: KeyAttributes) -> KeyRecord:
    return replace(record, **{name: getattr(attributes, name) for name in ATTRIBUTES})


def differing(before: KeyRecord, after: KeyRecord) -> list[str]:
    """The names of the attributes that differ between two versions of a key."""
    return [name for name in ATTRIBUTES if getattr(before, name) != getattr(after, name)]


def new_key_id() -> str:
    """A public id: ``key_`` and 20 random base62 characters. Not a secret."""
    return "key_" + "".join(secrets.choice(BASE62) for _ in range(20))


def issue(
    key_format: KeyFormat,
    type_name: str,
    environment: Environment,
    attributes: KeyAttributes,
    now: datetime,
) -> IssuedKey:
    """A new secret, and the record of the key it is."""
    secret = key_format.generate(environment)
    record = KeyRecord(
        id=new_key_id(),
        type=type_name,
        environment=environment,
        prefix=key_format.key_prefix(environment),
        last4=secret[-4:],
        created_at=now,
        label=attributes.label,
    )
    return IssuedKey(secret, with_attributes(record, attributes))
