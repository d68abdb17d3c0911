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

from policyengine.errors import ConfigError, InvalidValue
from policyengine.forwarded import forwarded_nodes, node_host

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
        # Tuples, not lists: a set lives as long as its key record, which may be one of
        # many thousands cached.
        self._firsts = tuple(first for first, _ in merged)
        self._lasts = tuple(last for _, last in merged)

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


#: The forwarding headers a deployment may name: the one its trusted proxies write.
FORWARDING_HEADERS = ("x-forwarded-for", "forwarded")


class Proxies:
    """The networks whose forwarding header is believed, and the one header that is.

    Only that header is read: a client-sent header of the other kind passes through a
    proxy that does not know it, so reading it would let the client name its address.
    """

    __slots__ = ("header", "networks")

    def __init__(
        self,
        networks: Iterable[str | tuple[int, int]] | NetworkSet = (),
        header: str = "x-forwarded-for",
    ) -> None:
        name = header.strip().lower() if isinstance(header, str) else header
        if name not in FORWARDING_HEADERS:
            raise ConfigError(
                f"forwarded_header must be 'x-forwarded-for' or 'forwarded', not {header!r}: "
                "name the one header your trusted proxies write"
            )
        self.header: str = name
        self.networks = networks if isinstance(networks, NetworkSet) else NetworkSet(networks)

    def __bool__(self) -> bool:
        return bool(self.networks)


#: No proxy is trusted: the peer is the client.
NO_PROXIES = Proxies()


def client_address(peer: str, headers: Mapping[str, str], proxies: Proxies) -> int:
    """The client's address: the peer, unless the peer is a trusted proxy.

    Behind trusted proxies, the chain of the one named header (``headers`` has lower-case
    names) is read from the right, and the first hop that is not a trusted proxy is the
    client. A hop reached on that walk that names no address (malformed, ``unknown`` or
    obfuscated), or a ``Forwarded`` header that does not parse, raises
    :class:`InvalidValue`: the engine denies rather than guess.
    """
    address = parse_ip(peer)
    trusted = proxies.networks
    if not trusted or address not in trusted:
        return address
    value = headers.get(proxies.header)
    if value is None:
        return address
    if proxies.header == "forwarded":
        for node in reversed(forwarded_nodes(value)):
            address = parse_ip(node_host(node))
            if address not in trusted:
                return address
        return address
    for hop in reversed(value.split(",")):
        if hop.strip():
            address = parse_ip(hop)
            if address not in trusted:
                return address
    return address
