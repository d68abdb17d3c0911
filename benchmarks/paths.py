"""Every path through the engine's check, each with the decision code it must end in:
the allowed checks (a key, a key whose request a rule examines, a JWT) and one request
for each denial the engine can give."""

from __future__ import annotations

from datetime import timedelta

from benchmarks.fixtures import OUTSIDE, UNREACHED, Keyring, long_ago, request
from policyengine import Code, Request
from policyengine.keys.format import KeyFormat
from policyengine.record import Usage

ALLOWED = "allowed: read-only key, GET /v1/events"
SPRAY = "unknown key, a new one each time"
#: A write key's limits, both far out of reach (the type's own daily limit is 100,000).
WRITE_LIMITS = {"default": UNREACHED, "daily": "100000000/day"}


def engine_paths(ring: Keyring) -> dict[str, tuple[Request, Code]]:
    engine = ring.engine
    reader = ring.issue()
    writer = ring.issue(type="write", rate_limits=WRITE_LIMITS)
    open_writer = ring.issue(type="write", allowed_ips=[], rate_limits=WRITE_LIMITS)
    revoked = ring.issue()
    engine.keys.revoke(ring.key_id(revoked))
    disabled = ring.issue()
    engine.keys.disable(ring.key_id(disabled))
    expired = ring.issue(at=long_ago(40), expires_in="1d")
    test_key = ring.issue(environment="test")
    limited = ring.issue(rate_limit="1/hour")
    spent = ring.issue(usage=Usage(credits=1, refill="monthly"))
    for primed in (limited, spent):
        engine.check(request(primed))  # spends the one request each has
    token = engine.tokens.issue(reader, scopes=["events:read"], ttl="15m")
    head, body, signature = token.split(".")
    forged = f"{head}.{body}.{signature[:-4]}AAAA"
    malformed = reader[:-1] + ("A" if reader[-1] != "A" else "B")
    past_token = engine.keys.get(ring.key_id(reader)).created_at + timedelta(hours=2)
    return {
        ALLOWED: (request(reader), Code.OK),
        "allowed: write key, POST /v1/events (a rule examines it)": (
            request(writer, "POST"),
            Code.OK,
        ),
        "allowed: JWT (ES256) for the read-only key": (request(token), Code.OK),
        "no credential": (request(None), Code.MISSING_CREDENTIAL),
        "malformed key (bad checksum)": (request(malformed), Code.MALFORMED_CREDENTIAL),
        "unknown key, the same one again": (
            request(engine.keys.key_format.generate("live")),
            Code.NOT_FOUND,
        ),
        "revoked key": (request(revoked), Code.REVOKED),
        "disabled key": (request(disabled), Code.DISABLED),
        "expired key": (request(expired), Code.EXPIRED),
        "test key in the live environment": (request(test_key), Code.WRONG_ENVIRONMENT),
        "address outside the key's network": (request(reader, ip=OUTSIDE), Code.IP_NOT_ALLOWED),
        "read-only key, POST /v1/events": (request(reader, "POST"), Code.INSUFFICIENT_SCOPE),
        "live write without an allow-list (deny rule)": (
            request(open_writer, "POST"),
            Code.DENIED_BY_POLICY,
        ),
        "no route matches": (request(reader, path="/v1/nothing"), Code.DENIED_BY_POLICY),
        "over the rate limit": (request(limited), Code.RATE_LIMITED),
        "usage credits spent": (request(spent), Code.USAGE_EXCEEDED),
        "JWT with a forged signature": (request(forged), Code.TOKEN_INVALID),
        "JWT past its expiry (judged at a later `Request.time`)": (
            request(token, time=past_token),
            Code.TOKEN_EXPIRED,
        ),
    }


def spray_requests(key_format: KeyFormat, count: int) -> list[Request]:
    """``count`` requests, each with a well-formed key (of ``key_format``) that no store
    holds."""
    return [request(key_format.generate("live")) for _ in range(count)]
