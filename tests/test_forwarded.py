"""Forwarding headers: only the one the deployment names, and RFC 7239 read as written."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from policyengine.errors import ConfigError, InvalidValue
from policyengine.net import Proxies, client_address, forwarded_nodes, parse_ip

PROXY = "10.0.0.5"
V4_PROXIES = Proxies(["10.0.0.0/8"])
FORWARDED = Proxies(["10.0.0.0/8"], header="forwarded")


def client(headers: dict[str, str], proxies: Proxies = FORWARDED, peer: str = PROXY) -> int:
    return client_address(peer, headers, proxies)


def test_by_default_only_x_forwarded_for_is_read() -> None:
    # The client sent Forwarded itself; the proxy appended the real peer to X-Forwarded-For.
    headers = {"forwarded": "for=203.0.113.9", "x-forwarded-for": "198.51.100.1"}
    assert client(headers, V4_PROXIES) == parse_ip("198.51.100.1")


def test_told_forwarded_x_forwarded_for_is_never_read() -> None:
    headers = {"x-forwarded-for": "203.0.113.9", "forwarded": "for=198.51.100.1"}
    assert client(headers) == parse_ip("198.51.100.1")
    # Without the named header, the client is the proxy itself: the client's header is ignored.
    assert client({"x-forwarded-for": "203.0.113.9"}) == parse_ip(PROXY)


@pytest.mark.parametrize("header", ["Forwarded", "X-Forwarded-For", "x-forwarded-for"])
def test_the_header_is_named_in_any_case(header: str) -> None:
    assert Proxies([], header=header).header == header.lower()


@pytest.mark.parametrize("header", ["x-real-ip", "", "forwarded-for", "X-Forwarded-For, Forwarded"])
def test_any_other_header_is_refused(header: str) -> None:
    with pytest.raises(
        ConfigError, match="forwarded_header must be 'x-forwarded-for' or 'forwarded'"
    ):
        Proxies([], header=header)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ('for="[2001:db8::1]:4711"', "2001:db8::1"),
        ('for="[2001:db8::1]"', "2001:db8::1"),
        ('for="203.0.113.9:8080"', "203.0.113.9"),
        ("for=203.0.113.9;proto=https;by=10.0.0.5", "203.0.113.9"),
        ("For=203.0.113.9 ; PROTO=https", "203.0.113.9"),
        ('for=198.51.100.1, for="203.0.113.9:_port"', "203.0.113.9"),
        # The quoted comma and semicolon belong to the host, they do not split the element.
        ('for=203.0.113.9;host="a,for=198.51.100.1;b"', "203.0.113.9"),
        ('for=203.0.113.9;host="a\\"b,c"', "203.0.113.9"),
        ("for=198.51.100.1,for=203.0.113.9, for=10.0.0.7", "203.0.113.9"),
    ],
)
def test_rfc_7239_nodes(value: str, expected: str) -> None:
    assert client({"forwarded": value}) == parse_ip(expected)


@pytest.mark.parametrize(
    "value",
    [
        # A quoted comma does not make a second hop: this is one malformed node.
        'for="203.0.113.9,for=198.51.100.1"',
        "for=unknown",
        'for="unknown:80"',
        "for=_hidden",
        'for="[2001:db8::1"',
        'for="[203.0.113.9]"',
        'for="2001:db8::1"',
        "for=garbage",
        "proto=https",
        # Syntax the RFC does not allow, wherever it is.
        "for=[2001:db8::1]",
        'for="203.0.113.9',
        "for=203.0.113.9;for=198.51.100.1",
        "for = 203.0.113.9",
        'for=198.51.100.1, for=203.0.113.9;host="a\x01"',
    ],
)
def test_a_node_that_names_no_address_denies(value: str) -> None:
    with pytest.raises(InvalidValue):
        client({"forwarded": value})


def test_only_the_hops_the_walk_reaches_must_be_addresses() -> None:
    # Left of the client, a client-written hop is never read.
    assert client({"forwarded": "for=unknown, for=203.0.113.9"}) == parse_ip("203.0.113.9")
    assert client({"forwarded": "for=_a, for=203.0.113.9, for=10.1.1.1"}) == parse_ip("203.0.113.9")
    with pytest.raises(InvalidValue, match="unknown"):
        client({"forwarded": "for=203.0.113.9, for=unknown, for=10.1.1.1"})


def test_forwarding_headers_from_untrusted_peers_are_ignored() -> None:
    assert client({"forwarded": "for=unknown"}, peer="198.51.100.1") == parse_ip("198.51.100.1")


# A hop as a proxy would write it: an address (with a port, perhaps) or an unknown node.
octet = st.integers(0, 255)
v4 = st.tuples(octet, octet, octet, octet).map(lambda o: ".".join(map(str, o)))
v6 = st.ip_addresses(v=6).map(str)
port = st.one_of(
    st.integers(0, 65535).map(str), st.from_regex(r"_[A-Za-z0-9._-]{1,8}", fullmatch=True)
)
nodes = st.one_of(
    v4,
    st.tuples(v4, port).map(":".join),
    v6.map(lambda a: f"[{a}]"),
    st.tuples(v6, port).map(lambda p: f"[{p[0]}]:{p[1]}"),
    st.just("unknown"),
    st.from_regex(r"_[A-Za-z0-9._-]{1,8}", fullmatch=True),
)
TOKEN = r"[!#$%&'*+.^_`|~0-9A-Za-z-]+"
tokens = st.from_regex(TOKEN, fullmatch=True)
# Any visible text, with the quotes, backslashes, commas and semicolons that need care.
texts = st.text(st.sampled_from('ab,;="\\ \t:[]_'), max_size=12)


def quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def spell(value: str, force_quotes: bool) -> str:
    if not force_quotes and re.fullmatch(TOKEN, value):
        return value
    return quote(value)


@st.composite
def elements(draw: st.DrawFn) -> tuple[str, str]:
    node = draw(nodes)
    others = draw(
        st.dictionaries(st.sampled_from(["by", "proto", "host", "x-ext"]), st.one_of(tokens, texts))
    )
    pairs = [
        (draw(st.sampled_from(["for", "For", "FOR"])), spell(node, draw(st.booleans()))),
        *((name, spell(value, draw(st.booleans()))) for name, value in others.items()),
    ]
    ordered = draw(st.permutations(pairs))
    gaps = draw(st.lists(st.sampled_from(["", " ", "\t"]), min_size=2, max_size=2))
    text = f"{gaps[0]};{gaps[1]}".join(f"{name}={value}" for name, value in ordered)
    return node, text


@given(st.lists(elements(), min_size=1, max_size=6), st.sampled_from([",", ", ", " ,\t"]))
def test_a_header_built_from_hops_reads_back_as_those_hops(
    hops: list[tuple[str, str]], comma: str
) -> None:
    header = comma.join(text for _, text in hops)
    assert forwarded_nodes(header) == [node for node, _ in hops]
