"""The practical floor: what a careful developer would write by hand for one fixed policy.

It does every check of the engine's full key check, in plain CPython and nothing of the
engine's: HMAC-SHA256 of the presented key (from inner and outer SHA-256 states computed
once, RFC 2104's own shortcut and three times as fast as ``hmac.digest``), a dict lookup
of the hash, the key's state and expiry, its environment, the client address within the
key's network, the route's scope among the key's scopes (and the live-write rule), and a
GCRA rate limit in memory.
The engine has to do the same from policy files; its time divided by this one's is the
price of that generality.
"""

from __future__ import annotations

import hashlib
import socket
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class HandKey:
    environment: str
    expires: float
    revoked: bool
    disabled: bool
    #: (network, mask) pairs of IPv4 addresses as integers; empty: any address.
    networks: tuple[tuple[int, int], ...]
    scopes: frozenset[str]


def ipv4_network(cidr: str) -> tuple[int, int]:
    address, _, bits = cidr.partition("/")
    mask = (0xFFFFFFFF << (32 - int(bits or 32))) & 0xFFFFFFFF
    return int.from_bytes(socket.inet_aton(address), "big") & mask, mask


#: (method, path) → (scope, is a write): the routes the benchmark asks about.
ROUTES = {
    ("GET", "/v1/events"): ("events:read", False),
    ("POST", "/v1/events"): ("events:write", True),
}


def hmac_sha256(secret: bytes) -> Callable[[str], bytes]:
    """HMAC-SHA256 under ``secret`` (at most one block long), from its precomputed pads."""
    if len(secret) > 64:
        raise ValueError("a secret longer than SHA-256's block would be hashed first")
    padded = secret.ljust(64, b"\0")
    inner_state = hashlib.sha256(bytes(b ^ 0x36 for b in padded))
    outer_state = hashlib.sha256(bytes(b ^ 0x5C for b in padded))

    def digest(text: str) -> bytes:
        inner = inner_state.copy()
        inner.update(text.encode())
        outer = outer_state.copy()
        outer.update(inner.digest())
        return outer.digest()

    return digest


def handwritten_checker(
    secret: bytes,
    credential: str,
    *,
    scopes: Iterable[str],
    cidrs: Iterable[str],
    per_minute: int,
    environment: str = "live",
) -> Callable[[str, str, str, str], int]:
    """A check for the one key ``credential``; it answers an HTTP status."""
    digest = hmac_sha256(secret)
    now = time.time()
    keys = {
        digest(credential): HandKey(
            environment,
            now + 30 * 86400,
            False,
            False,
            tuple(ipv4_network(cidr) for cidr in cidrs),
            frozenset(scopes),
        )
    }
    tats: dict[bytes, float] = {}
    interval = 60 / per_minute
    tolerance = 60.0 - interval  # a full minute's worth may come at once
    clock = time.time
    inet_aton = socket.inet_aton

    def check(credential: str, method: str, path: str, ip: str) -> int:
        at = clock()
        key_hash = digest(credential)
        key = keys.get(key_hash)
        if key is None or key.revoked or key.disabled or key.expires <= at:
            return 401
        if key.environment != environment:
            return 403
        if key.networks:
            try:
                address = int.from_bytes(inet_aton(ip), "big")
            except OSError:
                return 403
            if not any(address & mask == network for network, mask in key.networks):
                return 403
        route = ROUTES.get((method, path))
        if route is None or route[0] not in key.scopes:
            return 403
        if route[1] and key.environment == "live" and not key.networks:
            return 403
        tat = tats.get(key_hash, at)
        if tat < at:
            tat = at
        if tat - at > tolerance:
            return 429
        tats[key_hash] = tat + interval
        return 200

    return check
