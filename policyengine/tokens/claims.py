"""What a token of ours says: the header it must carry, and its claims, checked.

Header (RFC 7515, RFC 9068): ``alg`` is exactly ``ES256``; ``typ`` is ``at+jwt``; ``kid``
matches the strict pattern of our key ids; nothing else is there. In particular no
``crit`` (we understand no extension, so any declared critical one is refused) and no
``jwk``, ``jku``, ``x5u`` or ``x5c``: the key that verifies comes from our own key set,
never from the token.

Claims (RFC 7519, RFC 9068, RFC 8693's ``scope``): ``iss``, ``aud``, ``sub`` (the key
id), ``iat``, ``nbf``, ``exp``, ``jti``, ``scope`` (space-separated) and ``env``, each
required and of its type. The checks run in an order that keeps ``TOKEN_EXPIRED`` for a
token that is otherwise wholly good: a token not for us is invalid, expired or not.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from policyengine.errors import InvalidValue
from policyengine.policy.scopes import parse_scope
from policyengine.record import ENVIRONMENTS, Environment
from policyengine.tokens.errors import TokenExpired, TokenInvalid
from policyengine.tokens.signing import ALGORITHM, KID_PATTERN

#: ``typ`` of an OAuth access token in JWT form (RFC 9068), as we write it.
TOKEN_TYPE = "at+jwt"  # noqa: S105 - a media type, not a secret
_TYPES = frozenset({TOKEN_TYPE, "application/at+jwt"})
_HEADER = frozenset({"alg", "typ", "kid"})
_KEY_SOURCES = ("jwk", "jku", "x5u", "x5c")
REQUIRED = ("iss", "aud", "sub", "iat", "nbf", "exp", "jti", "scope", "env")
_TEXT = ("iss", "aud", "sub", "jti", "scope", "env")
_TIMES = ("iat", "nbf", "exp")


@dataclass(frozen=True, slots=True)
class TokenClaims:
    """A verified token: whose key it stands for, what it may do, and when."""

    key_id: str
    scopes: tuple[str, ...]
    environment: Environment
    issued_at: datetime
    not_before: datetime
    expires_at: datetime
    jti: str
    kid: str


@dataclass(frozen=True, slots=True)
class Expected:
    """What a token must say to be for this service."""

    issuer: str
    audience: str
    max_lifetime: timedelta


def check_header(header: Mapping[str, Any]) -> str:
    """The ``kid`` of an acceptable header; :class:`TokenInvalid` saying why not."""
    alg = header.get("alg")
    if not isinstance(alg, str):
        raise TokenInvalid("the token names no signing algorithm")
    if alg.strip().lower() == "none":
        raise TokenInvalid("unsigned tokens (alg none) are refused")
    if alg != ALGORITHM:
        raise TokenInvalid(f"the token's signing algorithm is not allowed: only {ALGORITHM} is")
    if "crit" in header:
        raise TokenInvalid("the token declares critical header extensions; none are supported")
    if any(name in header for name in _KEY_SOURCES):
        raise TokenInvalid(
            "the token carries or points to its own key; only this service's keys verify"
        )
    if not header.keys() <= _HEADER:
        raise TokenInvalid("the token's header has parameters this service never issues")
    typ = header.get("typ")
    if typ is None:
        raise TokenInvalid(f"the token has no typ; an access token's is {TOKEN_TYPE}")
    if not isinstance(typ, str) or typ.lower() not in _TYPES:
        raise TokenInvalid(f"the token is not an access token (its typ must be {TOKEN_TYPE})")
    kid = header.get("kid")
    if not isinstance(kid, str) or KID_PATTERN.fullmatch(kid) is None:
        raise TokenInvalid("the token's kid is missing or is not a key id of this service")
    return kid


def read_claims(claims: Mapping[str, Any], kid: str, expected: Expected) -> TokenClaims:
    """The claims of a token whose signature verified, checked but for the time."""
    for name in REQUIRED:
        if name not in claims:
            raise TokenInvalid(f"the token has no '{name}' claim")
    for name in _TEXT:
        if not isinstance(claims[name], str) or not claims[name]:
            raise TokenInvalid(f"the token's '{name}' claim is not a non-empty string")
    if claims["iss"] != expected.issuer:
        raise TokenInvalid("the token was issued by someone else (wrong iss)")
    if claims["aud"] != expected.audience:
        raise TokenInvalid("the token is meant for another audience (wrong aud)")
    if claims["env"] not in ENVIRONMENTS:
        raise TokenInvalid("the token's 'env' claim is not an environment")
    issued_at, not_before, expires_at = (_moment(claims[name], name) for name in _TIMES)
    if not issued_at < expires_at <= issued_at + expected.max_lifetime:
        raise TokenInvalid("the token's lifetime is not one this service issues")
    return TokenClaims(
        key_id=claims["sub"],
        scopes=_scopes(claims["scope"]),
        environment=claims["env"],
        issued_at=issued_at,
        not_before=not_before,
        expires_at=expires_at,
        jti=claims["jti"],
        kid=kid,
    )


def check_time(claims: TokenClaims, now: datetime, leeway: timedelta) -> None:
    """Whether ``claims`` hold at ``now``, allowing ``leeway`` of clock skew either way."""
    if claims.not_before > now + leeway:
        raise TokenInvalid("the token is not valid yet (nbf is in the future)")
    if claims.issued_at > now + leeway:
        raise TokenInvalid("the token claims to be issued in the future (iat)")
    if now >= claims.expires_at + leeway:
        raise TokenExpired(f"the token expired at {claims.expires_at.isoformat()}")


def _moment(value: Any, name: str) -> datetime:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise TokenInvalid(f"the token's '{name}' claim is not a number of seconds")
    try:
        return datetime.fromtimestamp(value, UTC)
    except (OverflowError, OSError, ValueError):
        raise TokenInvalid(f"the token's '{name}' claim is out of range") from None


def _scopes(text: str) -> tuple[str, ...]:
    try:
        return tuple(str(parse_scope(part)) for part in text.split(" "))
    except InvalidValue:
        raise TokenInvalid("the token's 'scope' claim is not a list of scopes") from None
