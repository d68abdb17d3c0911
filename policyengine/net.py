"""IP addresses and networks as integers, so that a check compares numbers, not strings.

Every address lives in one 128-bit space: an IPv4 address ``a.b.c.d`` is stored as its
IPv4-mapped IPv6 form ``::ffff:a.b.c.d``, so ``10.0.0.0/8`` matches both ``10.1.2.3`` and
``::ffff:10.1.2.3``, as a dual-stack socket reports them.
"""

from __future__ import annotations

import bisect
import ipaddress
from collections.abc import Iterable, Mapping
from functools import lru_cache

from policyengine.errors import InvalidValue

_MAPPED = 0xFFFF << 32
_V4_MAX = 1 << 32


@lru_cache(maxsize=65536)
def parse_ip(text: str) -> int:
    """An address, IPv4 or IPv6, as an integer in the mapped space (clients repeat, so the
    answers are kept)."""
    if not isinstance(text, str) or "%" in text:
        raise InvalidValue(f"invalid IP address {text!r}")
    try:
        address = ipaddress.ip_address(text.strip())
    except ValueError:
        raise InvalidValue(f"invalid IP address {text!r}") from None
    if address.version == 4:
        return _MAPPED | int(address)
    return int(address)


def parse_network(text: str) -> tuple[int, int]:
    """A CIDR (or a bare address, as a single-address network) as ``(first, last)``."""
    if not isinstance(text, str) or "%" in text:
        raise InvalidValue(f"invalid CIDR {text!r}")
    text = text.strip()
    try:
        network = ipaddress.ip_network(text, strict=False)
    except ValueError:
        raise InvalidValue(
            f"invalid CIDR {text!r}: write an address and a prefix length, such as "
            "10.0.0.0/8 or 2001:db8::/32"
        ) from None
    if "/" in text and network.network_address != ipaddress.ip_interface(text).ip:
        raise InvalidValue(
            f"invalid CIDR {text!r}: it has host bits set (did you mean '{network}'?)"
        )
    first, last = int(network.network_address), int(network.broadcast_address)
    if network.version == 4:
        return _MAPPED | first, _MAPPED | last
    return first, last


def format_ip(value: int) -> str:
    if value >> 32 == 0xFFFF:
        return str(ipaddress.IPv4Address(value & (_V4_MAX - 1)))
    return str(ipaddress.IPv6Address(value))


class NetworkSet:
    """A set of networks, merged into sorted disjoint ranges; membership is a bisection."""

    __slots__ = ("_firsts", "_lasts", "source")

    def __init__(self, networks: Iterable[str | tuple[int, int]] = ()) -> None:
        ranges = sorted(parse_network(n) if isinstance(n, str) else n for n in networks)
        self.source = tuple(ranges)
        merged: list[list[int]] = []
        for first, last in ranges:
            if merged and first <= merged[-1][1] + 1:
                merged[-1][1] = max(merged[-1][1], last)
            else:
                merged.append([first, last])
        self._firsts = [first for first, _ in merged]
        self._lasts = [last for _, last in merged]

    def __contains__(self, address: object) -> bool:
        if not isinstance(address, int):
            return False
        index = bisect.bisect_right(self._firsts, address) - 1
        return index >= 0 and address <= self._lasts[index]

    def __bool__(self) -> bool:
        return bool(self._firsts)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, NetworkSet):
            return NotImplemented
        return self._firsts == other._firsts and self._lasts == other._lasts

    def __hash__(self) -> int:
        return hash((tuple(self._firsts), tuple(self._lasts)))

    def __repr__(self) -> str:
        return f"NetworkSet({len(self._firsts)} ranges)"


def _forwarded_for(value: str) -> list[str]:
    """The ``for=`` addresses of an RFC 7239 ``Forwarded`` header, ports and brackets removed."""
    found = []
    for element in value.split(","):
        for pair in element.split(";"):
            name, _, raw = pair.strip().partition("=")
            if name.strip().lower() != "for":
                continue
            node = raw.strip().strip('"')
            if node.startswith("["):
                node = node[1 : node.find("]")] if "]" in node else node
            elif node.count(":") == 1:
                node = node.partition(":")[0]
            found.append(node)
    return found


def client_address(peer: str, headers: Mapping[str, str], trusted_proxies: NetworkSet) -> int:
    """The client's address: the peer, unless the peer is a trusted proxy.

    Behind trusted proxies, the forwarding chain (``Forwarded``, else ``X-Forwarded-For``)
    is read from the right, and the first address that is not a trusted proxy is the
    client. A malformed address anywhere on that walk raises :class:`InvalidValue`.
    """
    address = parse_ip(peer)
    if not trusted_proxies or address not in trusted_proxies:
        return address
    forwarded = headers.get("forwarded")
    if forwarded is not None:
        chain = _forwarded_for(forwarded)
    else:
        chain = [
            part.strip() for part in headers.get("x-forwarded-for", "").split(",") if part.strip()
        ]
    for hop in reversed(chain):
        address = parse_ip(hop)
        if address not in trusted_proxies:
            return address
    return address
