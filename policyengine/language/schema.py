"""The attributes a condition may read, each with its type and where the value comes from.

``code`` is the Python expression the compiler emits to read the attribute from the two
objects a compiled condition receives: ``key`` (a :class:`~policyengine.record.KeyRecord`)
and ``req`` (a :class:`~policyengine.context.Context`).
"""

from __future__ import annotations

from dataclasses import dataclass

from policyengine.language.types import CIDR, IP, STRING, TIME, Type, list_of


@dataclass(frozen=True, slots=True)
class Attribute:
    path: str
    type: Type
    code: str
    doc: str


ATTRIBUTES: dict[str, Attribute] = {
    a.path: a
    for a in (
        Attribute("key.id", STRING, "key.id", "the key's public id, such as ``key_3x9…``"),
        Attribute("key.type", STRING, "key.type", "the key type's name"),
        Attribute("key.label", STRING, "key.label", "the purpose the key was created for"),
        Attribute("key.environment", STRING, "key.environment", "``test`` or ``live``"),
        Attribute(
            "key.scopes", list_of(STRING), "key.scopes", "the key's own scopes (scoped keys)"
        ),
        Attribute(
            "key.allowed_ips",
            list_of(CIDR),
            "key.ip_ranges",
            "the networks the key is restricted to; ``[]`` when it is not restricted",
        ),
        Attribute("key.created_at", TIME, "key.created_ts", "when the key was created"),
        Attribute(
            "key.expires_at",
            TIME,
            "key.expires_ts",
            "when the key expires; 9999-12-31T23:59:59Z for a key that never does",
        ),
        Attribute("request.ip", IP, "req.ip", "the client's address (after trusted proxies)"),
        Attribute("request.method", STRING, "req.method", "the HTTP method, upper case"),
        Attribute("request.path", STRING, "req.path", "the HTTP path, without the query"),
        Attribute("request.time", TIME, "req.time", "the instant of the decision"),
        Attribute(
            "request.action", STRING, "req.action", "the action asked for, such as ``write``"
        ),
        Attribute(
            "request.credential",
            STRING,
            "req.credential_type",
            "``key`` for an API key, ``token`` for a JWT exchanged for one",
        ),
        Attribute("resource.type", STRING, "req.resource", "the resource, such as ``events``"),
        Attribute(
            "resource.id",
            STRING,
            "req.resource_id",
            'the resource instance, such as ``evt_42``; ``""`` when there is none',
        ),
    )
}

#: String-valued maps, read as ``key.metadata.team`` or ``request.headers["user-agent"]``.
#: A missing entry reads as ``""``.
MAPS: dict[str, tuple[str, str]] = {
    "key.metadata": ("key.metadata", "the key's metadata, a map of strings"),
    "request.headers": (
        "req.headers",
        "request headers the policies declare under ``headers:`` (names in lower case)",
    ),
}

ROOTS = ("key", "request", "resource")
