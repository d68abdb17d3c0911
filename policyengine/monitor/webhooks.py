"""Standard Webhooks signatures: secrets, signing, and verifying what a receiver got.

A delivery carries three headers: ``webhook-id`` (the message id, the same on every retry,
so that a receiver can drop duplicates), ``webhook-timestamp`` (Unix seconds of this
attempt) and ``webhook-signature``: ``v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<body>">``,
one per secret, separated by spaces, so that a secret can be rotated without a gap.
Any receiver verifies them with the Standard Webhooks libraries, or with :func:`verify`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets as random_source
import time
from collections.abc import Mapping, Sequence

from policyengine.errors import ConfigError, PolicyEngineError

SECRET_PREFIX = "whsec_"  # noqa: S105 - the prefix, not a secret
#: How many random bytes a new secret has; the specification asks for 24 to 64.
SECRET_BYTES = 32
MIN_SECRET_BYTES, MAX_SECRET_BYTES = 24, 64
#: How far a timestamp may stray from the receiver's clock, either way, in seconds.
DEFAULT_TOLERANCE = 300.0

ID_HEADER = "webhook-id"
TIMESTAMP_HEADER = "webhook-timestamp"
SIGNATURE_HEADER = "webhook-signature"


class WebhookSecretError(ConfigError):
    """A signing secret that is not ``whsec_`` and 24 to 64 bytes of base64."""

    code = "webhook_secret_invalid"


class SignatureError(PolicyEngineError):
    """A delivery whose headers are missing, stale, or signed with another secret."""

    code = "webhook_signature_invalid"


def generate_secret(size: int = SECRET_BYTES) -> str:
    """A new signing secret, ``whsec_`` and the base64 of ``size`` random bytes."""
    if not MIN_SECRET_BYTES <= size <= MAX_SECRET_BYTES:
        raise WebhookSecretError(
            f"a webhook secret has {MIN_SECRET_BYTES} to {MAX_SECRET_BYTES} bytes, not {size}"
        )
    return SECRET_PREFIX + base64.b64encode(random_source.token_bytes(size)).decode("ascii")


def secret_key(secret: str) -> bytes:
    """The HMAC key a secret stands for: its base64 part decoded (the prefix is optional)."""
    if not isinstance(secret, str):
        raise WebhookSecretError("a webhook secret is a string: whsec_ and base64")
    encoded = secret.removeprefix(SECRET_PREFIX)
    try:
        key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise WebhookSecretError(
            "invalid webhook secret: write whsec_ followed by base64 (A-Z a-z 0-9 + /)"
        ) from None
    if not MIN_SECRET_BYTES <= len(key) <= MAX_SECRET_BYTES:
        raise WebhookSecretError(
            f"invalid webhook secret: it holds {len(key)} bytes, and a secret holds "
            f"{MIN_SECRET_BYTES} to {MAX_SECRET_BYTES}"
        )
    return key


def _digest(key: bytes, message_id: str, timestamp: int, body: bytes) -> bytes:
    signed = b"%s.%d.%s" % (message_id.encode("utf-8"), timestamp, body)
    return hmac.new(key, signed, hashlib.sha256).digest()


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """One signature, ``v1,<base64>``, over ``<id>.<timestamp>.<body>``."""
    digest = _digest(secret_key(secret), message_id, timestamp, body)
    return "v1," + base64.b64encode(digest).decode("ascii")


def signed_headers(
    secrets: str | Sequence[str], message_id: str, timestamp: int, body: bytes
) -> dict[str, str]:
    """The three Standard Webhooks headers; several secrets give several signatures."""
    keys = [secrets] if isinstance(secrets, str) else list(secrets)
    if not keys:
        raise WebhookSecretError("a delivery needs at least one signing secret")
    return {
        ID_HEADER: message_id,
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: " ".join(sign(key, message_id, timestamp, body) for key in keys),
    }


def verify(
    secrets: str | Sequence[str],
    body: bytes | str,
    headers: Mapping[str, str],
    *,
    tolerance: float = DEFAULT_TOLERANCE,
    now: float | None = None,
) -> None:
    """Check that ``body`` and ``headers`` are a delivery signed with one of ``secrets``
    within ``tolerance`` seconds of ``now`` (default: this machine's clock); raise
    :class:`SignatureError` saying what is wrong otherwise. Header names are matched
    regardless of case; signatures of versions other than ``v1`` are passed over."""
    folded = {name.lower(): value for name, value in headers.items()}
    message_id = folded.get(ID_HEADER)
    stamp = folded.get(TIMESTAMP_HEADER)
    signatures = folded.get(SIGNATURE_HEADER)
    missing = [
        name
        for name, value in (
            (ID_HEADER, message_id),
            (TIMESTAMP_HEADER, stamp),
            (SIGNATURE_HEADER, signatures),
        )
        if not value
    ]
    if missing or message_id is None or stamp is None or signatures is None:
        raise SignatureError(f"missing header(s): {', '.join(missing)}")
    if not stamp.isascii() or not stamp.isdigit() or len(stamp) > 12:
        raise SignatureError(f"invalid {TIMESTAMP_HEADER} {stamp[:40]!r}: expected Unix seconds")
    timestamp = int(stamp)
    skew = (time.time() if now is None else now) - timestamp
    if skew > tolerance:
        raise SignatureError(f"the delivery is too old ({skew:.0f}s; tolerance {tolerance:g}s)")
    if -skew > tolerance:
        raise SignatureError(
            f"the delivery's timestamp is {-skew:.0f}s in the future (tolerance {tolerance:g}s)"
        )
    payload = body.encode("utf-8") if isinstance(body, str) else body
    expected = [
        _digest(secret_key(secret), message_id, timestamp, payload)
        for secret in ([secrets] if isinstance(secrets, str) else secrets)
    ]
    for token in signatures.split():
        version, _, encoded = token.partition(",")
        if version != "v1":
            continue
        try:
            given = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            continue
        # Every expected digest is compared, in constant time, whatever matched before.
        if sum(hmac.compare_digest(given, digest) for digest in expected):
            return
    raise SignatureError(
        "no signature matches: the body, id or timestamp was changed, or the secret is another"
    )
