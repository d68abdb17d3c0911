"""Where a webhook may go: the SSRF guard.

A target URL is ``http`` or ``https`` with a host. Its host is resolved once, and every
address it resolves to must be public: a private, loopback, link-local, unique-local,
multicast, unspecified or otherwise reserved address (IPv4-mapped and other IPv6 forms
that carry an IPv4 address are judged by that address) is refused unless the allow list
names it. The connection then goes to those addresses and no others (see
:mod:`policyengine.monitor.transport`), so that a second lookup cannot answer differently.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

from policyengine.errors import PolicyEngineError
from policyengine.monitor.hook_urls import redact_hook_url
from policyengine.net import NetworkSet, parse_ip

#: ``(host, port) → addresses``; the default asks the system's resolver.
Resolver = Callable[[str, int], Sequence[str]]

MAX_URL_LENGTH = 2048
_NO_NETWORKS = NetworkSet()
_UNIQUE_LOCAL = ipaddress.IPv6Network("fc00::/7")
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")
_DEFAULT_PORTS = {"http": 80, "https": 443}


class TargetRefused(PolicyEngineError):
    """A webhook URL that may not be delivered to; ``reason`` says why."""

    code = "webhook_target_refused"

    def __init__(self, url: str, reason: str) -> None:
        self.url = url
        self.reason = reason
        super().__init__(f"webhook URL {redact_hook_url(url)[:200]!r} refused: {reason}")


@dataclass(frozen=True, slots=True)
class TargetUrl:
    """A webhook URL taken apart: ``host`` is ASCII (IDNA) or an IP address without
    brackets; ``path`` holds the path and query, at least ``/``."""

    url: str
    scheme: Literal["http", "https"]
    host: str
    port: int
    path: str

    def __repr__(self) -> str:  # the URL as read back: its path may hold a credential
        return f"TargetUrl({redact_hook_url(self.url)!r})"


@dataclass(frozen=True, slots=True)
class ResolvedTarget:
    """A URL whose host was resolved once: connect to ``addresses``, in order, and only."""

    url: TargetUrl
    addresses: tuple[str, ...]


def system_resolver(host: str, port: int) -> list[str]:
    """The host's addresses from the system's resolver, in its order, without repeats."""
    found: list[str] = []
    for *_, sockaddr in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM):
        address = str(sockaddr[0]).partition("%")[0]
        if address not in found:
            found.append(address)
    return found


def parse_target_url(url: str) -> TargetUrl:
    """Check a URL's form alone (no lookup): raise :class:`TargetRefused` if it is not an
    ``http(s)`` URL with a host, or carries a user name or password."""
    if not isinstance(url, str) or not url:
        raise TargetRefused(str(url), "a webhook URL is a non-empty string")
    if len(url) > MAX_URL_LENGTH:
        raise TargetRefused(url, f"longer than {MAX_URL_LENGTH} characters")
    if not url.isprintable() or any(char.isspace() for char in url):
        raise TargetRefused(url, "it contains spaces or control characters")
    try:
        parts = urlsplit(url)
        port = parts.port
        host = parts.hostname or ""
    except ValueError as error:
        raise TargetRefused(url, f"not a valid URL ({error})") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise TargetRefused(url, f"the scheme must be http or https, not {scheme or 'none'!r}")
    if parts.username is not None or parts.password is not None:
        raise TargetRefused(url, "credentials in the URL are not accepted")
    if not host:
        raise TargetRefused(url, "it has no host")
    try:
        ascii_host = host if host.isascii() else host.encode("idna").decode("ascii")
    except UnicodeError:
        raise TargetRefused(url, f"invalid host name {host!r}") from None
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    if not path.isascii():
        raise TargetRefused(url, "the path and query must be ASCII: percent-encode the rest")
    return TargetUrl(
        url=url,
        scheme="https" if scheme == "https" else "http",
        host=ascii_host.rstrip(".") if not _is_ip(ascii_host) else ascii_host,
        port=port if port is not None else _DEFAULT_PORTS[scheme],
        path=path,
    )


def check_target(
    url: str | TargetUrl,
    *,
    allow: NetworkSet = _NO_NETWORKS,
    resolver: Resolver = system_resolver,
) -> ResolvedTarget:
    """Resolve the URL's host once and refuse it unless every address is public or in
    ``allow``. Use it when a webhook is registered (to answer 422) and before each attempt.
    """
    target = url if isinstance(url, TargetUrl) else parse_target_url(url)
    if _is_ip(target.host):
        addresses: Sequence[str] = [target.host]
    else:
        try:
            addresses = resolver(target.host, target.port)
        except (OSError, UnicodeError) as error:
            raise TargetRefused(
                target.url,
                f"cannot resolve {target.host}: {error.args[-1] if error.args else error}",
            ) from None
    if not addresses:
        raise TargetRefused(target.url, f"{target.host} resolves to no address")
    for address in addresses:
        reason = refusal(address, allow)
        if reason is not None:
            raise TargetRefused(target.url, reason)
    return ResolvedTarget(target, tuple(addresses))


def refusal(address: str, allow: NetworkSet = _NO_NETWORKS) -> str | None:
    """Why a webhook may not go to ``address``, or ``None`` when it may."""
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return f"the resolver answered {address[:60]!r}, which is not an IP address"
    if isinstance(parsed, ipaddress.IPv6Address) and parsed.scope_id is not None:
        # A zone names an interface of this machine: no allow list can speak for it.
        return f"{address[:60]} names a zone (an interface of this machine)"
    if parse_ip(str(parsed)) in allow:
        return None
    kind = _kind(parsed)
    if kind is None:
        return None
    return f"{parsed} is {kind}, and the allow list does not name it"


def _kind(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            inner = _kind(embedded)
            return None if inner is None else f"an IPv6 form of {embedded}, {inner}"
    checks = (
        (address.is_unspecified, "an unspecified address"),
        (address.is_loopback, "a loopback address"),
        (address.is_link_local, "a link-local address"),
        (address.is_multicast, "a multicast address"),
        (isinstance(address, ipaddress.IPv6Address) and address in _UNIQUE_LOCAL,
         "a unique-local address"),
        (address.is_private, "a private address"),
        (address.is_reserved or not address.is_global, "a reserved address"),
    )  # fmt: skip
    return next((kind for matched, kind in checks if matched), None)


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one stands for: mapped, NAT64, 6to4, Teredo, compatible."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if address in _NAT64 or (address in _IPV4_COMPATIBLE and int(address) > 1):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True
