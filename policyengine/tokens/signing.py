"""One signing key: an ES256 (ECDSA on P-256 with SHA-256) key pair, its ``kid`` and its dates.

A ``kid`` is 16 random base64url characters (96 bits). Its strict pattern is checked
before any lookup, and a lookup is only ever in a dictionary of the keys in memory:
a ``kid`` never becomes a path, a query or a URL.

Dates, all timezone-aware:

``created_at``
    when the key was made.
``signs_from``
    when it starts signing. Later than ``created_at`` for a key published ahead, so that
    every verifier knows it before the first token it signs arrives.
``retires_at``
    when it stops verifying; set when a newer key takes over signing, to that moment
    plus the longest lifetime of a token (and the leeway). ``None`` while it signs.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm
from jwt.exceptions import InvalidKeyError

from policyengine.errors import InvalidValue

#: The one algorithm tokens are signed and verified with.
ALGORITHM = "ES256"
CURVE = "P-256"
KID_BYTES = 12
KID_LENGTH = KID_BYTES * 4 // 3
#: What every ``kid`` looks like: ``KID_BYTES`` random bytes in base64url, no padding.
KID_PATTERN = re.compile(rf"[A-Za-z0-9_-]{{{KID_LENGTH}}}")

_PUBLIC_MEMBERS = ("kty", "crv", "x", "y")

#: The order n of P-256's group. An ECDSA signature ``(r, s)`` and its twin ``(r, n - s)``
#: verify alike; only the low form, ``s <= n / 2``, is issued and accepted, so that a
#: token has one spelling and anything keyed on its text (a deny list, a replay cache)
#: cannot be sidestepped by respelling it.
P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
_HALF_ORDER = P256_ORDER // 2
_SCALAR_BYTES = 32


def is_low_s(signature: bytes) -> bool:
    """Whether a JOSE ES256 signature (``r || s``, 32 bytes each) has its low ``s``."""
    s = int.from_bytes(signature[_SCALAR_BYTES:], "big")
    return len(signature) == 2 * _SCALAR_BYTES and s <= _HALF_ORDER


def low_s(signature: bytes) -> bytes:
    """The same signature in its low form: ``(r, n - s)`` when ``s`` is high."""
    s = int.from_bytes(signature[_SCALAR_BYTES:], "big")
    if s <= _HALF_ORDER:
        return signature
    return signature[:_SCALAR_BYTES] + (P256_ORDER - s).to_bytes(_SCALAR_BYTES, "big")


def new_kid() -> str:
    return secrets.token_urlsafe(KID_BYTES)


@dataclass(frozen=True, slots=True)
class SigningKey:
    kid: str
    private_key: ec.EllipticCurvePrivateKey = field(repr=False, compare=False)
    created_at: datetime
    signs_from: datetime
    retires_at: datetime | None = None
    public_key: ec.EllipticCurvePublicKey = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.kid, str) or KID_PATTERN.fullmatch(self.kid) is None:
            raise ValueError(f"a kid is {KID_LENGTH} base64url characters")
        if not isinstance(self.private_key.curve, ec.SECP256R1):
            raise ValueError(f"a signing key is an elliptic curve key on {CURVE}")
        moments = (self.created_at, self.signs_from, self.retires_at)
        if any(moment is not None and moment.tzinfo is None for moment in moments):
            raise ValueError("a signing key's dates must carry a timezone")
        object.__setattr__(self, "public_key", self.private_key.public_key())

    @classmethod
    def generate(cls, now: datetime, signs_from: datetime | None = None) -> SigningKey:
        """A new key with a fresh ``kid``, signing from ``signs_from`` (default ``now``)."""
        return cls(
            kid=new_kid(),
            private_key=ec.generate_private_key(ec.SECP256R1()),
            created_at=now,
            signs_from=now if signs_from is None else signs_from,
        )

    def verifies_at(self, now: datetime) -> bool:
        return self.retires_at is None or now < self.retires_at

    def retiring(self, at: datetime) -> SigningKey:
        """This key, to stop verifying at ``at`` (or earlier, if it already was to)."""
        if self.retires_at is not None and self.retires_at <= at:
            return self
        return replace(self, retires_at=at)

    def public_jwk(self) -> dict[str, str]:
        """The public key as a JWK (RFC 7517), with its ``kid``, ``use`` and ``alg``."""
        jwk = ECAlgorithm.to_jwk(self.public_key, as_dict=True)
        public = {name: str(jwk[name]) for name in _PUBLIC_MEMBERS}
        return {**public, "kid": self.kid, "use": "sig", "alg": ALGORITHM}

    def to_record(self) -> dict[str, Any]:
        """What a key store keeps: the private JWK (with ``d``) and the dates."""
        jwk = ECAlgorithm.to_jwk(self.private_key, as_dict=True)
        return {
            "kid": self.kid,
            "created_at": self.created_at.isoformat(),
            "signs_from": self.signs_from.isoformat(),
            "retires_at": None if self.retires_at is None else self.retires_at.isoformat(),
            "jwk": {name: str(jwk[name]) for name in (*_PUBLIC_MEMBERS, "d")},
        }

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> SigningKey:
        """The key :meth:`to_record` wrote; ``ValueError`` saying what is wrong otherwise.

        Messages name the member at fault, never its value: it may be private key material.
        """
        if not isinstance(record, Mapping):
            raise ValueError("a key entry must be a JSON object")
        jwk = record.get("jwk")
        if not isinstance(jwk, Mapping) or jwk.get("kty") != "EC" or jwk.get("crv") != CURVE:
            raise ValueError(f"'jwk' must be a private EC key on {CURVE}")
        try:
            private_key = ECAlgorithm.from_jwk(dict(jwk))
        except (InvalidKeyError, TypeError, ValueError):
            raise ValueError("'jwk' does not hold a valid private key") from None
        if not isinstance(private_key, ec.EllipticCurvePrivateKey):
            raise ValueError("'jwk' holds no private key ('d')")
        kid = record.get("kid")
        if not isinstance(kid, str):
            raise ValueError("'kid' must be a string")
        retires_at = record.get("retires_at")
        return cls(
            kid=kid,
            private_key=private_key,
            created_at=_moment(record, "created_at"),
            signs_from=_moment(record, "signs_from"),
            retires_at=None if retires_at is None else _moment(record, "retires_at"),
        )


def _moment(record: Mapping[str, Any], name: str) -> datetime:
    value = record.get(name)
    try:
        moment = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise ValueError(f"'{name}' must be an ISO 8601 date and time with a timezone")
    return moment


def aware(now: datetime) -> datetime:
    """``now``, if it carries a timezone: a naive time would be read in local time."""
    if not isinstance(now, datetime) or now.tzinfo is None:
        raise InvalidValue(
            "the instant must be a timezone-aware datetime, such as datetime.now(UTC)"
        )
    return now
