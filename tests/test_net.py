"""Addresses and networks as integers agree with Python's ipaddress, IPv4-mapped included."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from policyengine.errors import ConfigError, InvalidValue
from policyengine.net import NetworkSet, Proxies, client_address, format_ip, parse_ip, parse_network

v4_networks = st.builds(
    lambda address, prefix: ipaddress.ip_network(f"{address}/{prefix}", strict=False),
    st.ip_addresses(v=4),
    st.integers(0, 32),
)
v6_networks = st.builds(
    lambda address, prefix: ipaddress.ip_network(f"{address}/{prefix}", strict=False),
    st.ip_addresses(v=6),
    st.integers(0, 128),
)
networks = st.one_of(v4_networks, v6_networks)
addresses = st.one_of(st.ip_addresses(v=4), st.ip_addresses(v=6))


def contains(network: ipaddress.IPv4Network | ipaddress.IPv6Network, address) -> bool:
    """The documented meaning: IPv4 lives in IPv6 as ::ffff:a.b.c.d, both ways round."""
    if network.version == 4:
        network = ipaddress.IPv6Network(
            f"::ffff:{network.network_address}/{96 + network.prefixlen}"
        )
    if address.version == 4:
        address = ipaddress.IPv6Address(f"::ffff:{address}")
    return address in network


@given(st.lists(networks, max_size=6), addresses)
def test_membership_agrees_with_ipaddress(nets, address) -> None:
    found = parse_ip(str(address)) in NetworkSet(str(n) for n in nets)
    assert found == any(contains(n, address) for n in nets)


@given(st.lists(networks, max_size=6), st.ip_addresses(v=4))
def test_an_ipv4_client_and_its_mapped_form_are_one(nets, address) -> None:
    networks_set = NetworkSet(str(n) for n in nets)
    mapped = ipaddress.IPv6Address(f"::ffff:{address}")
    assert (parse_ip(str(address)) in networks_set) == (parse_ip(str(mapped)) in networks_set)


@given(addresses)
def test_addresses_round_trip_with_mapped_ones_shown_as_ipv4(address) -> None:
    shown = getattr(address, "ipv4_mapped", None) or address
    assert format_ip(parse_ip(str(address))) == str(shown)


@given(networks)
def test_a_network_spans_exactly_its_addresses(network) -> None:
    first, last = parse_network(str(network))
    assert last - first + 1 == network.num_addresses


MAPPED = 0xFFFF << 32


@pytest.mark.parametrize(
    ("text", "first", "last"),
    [
        ("10.0.0.0/8", "10.0.0.0", "10.255.255.255"),
        ("198.51.100.7/32", "198.51.100.7", "198.51.100.7"),
        ("198.51.100.7", "198.51.100.7", "198.51.100.7"),
        ("0.0.0.0/0", "0.0.0.0", "255.255.255.255"),
        ("2001:db8::/32", "2001:db8::", "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff"),
        ("::/0", "::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"),
    ],
)
def test_a_network_runs_from_its_first_to_its_last_address(
    text: str, first: str, last: str
) -> None:
    """The edges the property above reaches only by chance, written out."""
    assert parse_network(text) == (parse_ip(first), parse_ip(last))
    networks = NetworkSet([text])
    assert parse_ip(first) in networks
    assert parse_ip(last) in networks
    if parse_ip(first) not in (0, MAPPED):
        assert parse_ip(first) - 1 not in networks
    if parse_ip(last) not in (2**128 - 1, MAPPED | 0xFFFFFFFF):
        assert parse_ip(last) + 1 not in networks


@pytest.mark.parametrize(
    "text", ["10.0.0.1/8", "300.0.0.0/8", "10.0.0.0/33", "2001:db8::/129", "fe80::1%eth0", "", "x"]
)
def test_bad_networks_are_refused(text: str) -> None:
    with pytest.raises(InvalidValue):
        parse_network(text)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "10.0.0.1/8",
            "invalid CIDR '10.0.0.1/8': it has host bits set (did you mean '10.0.0.0/8'?)",
        ),
        ("2001:db8::1/32", "host bits set (did you mean '2001:db8::/32'?)"),
        (
            "10.0.0.0/33",
            "invalid CIDR '10.0.0.0/33': write an address and a prefix length, such as "
            "10.0.0.0/8 or 2001:db8::/32",
        ),
        ("fe80::1%eth0", "invalid CIDR 'fe80::1%eth0'"),
    ],
)
def test_a_refused_network_says_what_to_write_instead(text: str, message: str) -> None:
    with pytest.raises(InvalidValue) as refused:
        parse_network(text)
    assert str(refused.value).endswith(message)


def test_two_ranges_one_address_apart_leave_the_address_between_them_out() -> None:
    networks = NetworkSet(["10.0.0.0/32", "10.0.0.2/32"])
    assert parse_ip("10.0.0.0") in networks
    assert parse_ip("10.0.0.1") not in networks
    assert parse_ip("10.0.0.2") in networks


def test_network_sets_are_equal_when_they_cover_the_same_addresses() -> None:
    whole = NetworkSet(["10.0.0.0/24"])
    halves = NetworkSet(["10.0.0.128/25", "10.0.0.0/25"])
    assert whole == halves
    assert hash(whole) == hash(halves)
    assert {whole, halves} == {whole}
    assert whole != NetworkSet(["10.0.0.0/25"])
    assert whole != NetworkSet(["10.0.0.0/24", "10.0.2.0/24"])
    assert NetworkSet(["10.0.0.0/24", "10.0.1.0/25"]) != NetworkSet(["10.0.0.0/24", "10.0.1.0/24"])
    assert NetworkSet(["10.0.0.0/25"]) != NetworkSet(["10.0.0.128/25"])
    assert whole != ["10.0.0.0/24"]


def test_a_value_that_is_not_an_address_is_in_no_network() -> None:
    everything = NetworkSet(["0.0.0.0/0", "::/0"])
    assert "10.0.0.1" not in everything
    assert None not in everything


def test_proxies_take_a_network_set_as_it_is() -> None:
    trusted = Proxies(NetworkSet(["10.0.0.0/8"]), header=" Forwarded ")
    assert trusted.header == "forwarded"
    assert client_address("10.0.0.1", {"forwarded": "for=192.0.2.1"}, trusted) == parse_ip(
        "192.0.2.1"
    )


@pytest.mark.parametrize("header", ["x-real-ip", None])
def test_a_forwarding_header_other_than_the_two_is_a_config_error(header: object) -> None:
    with pytest.raises(ConfigError) as refused:
        Proxies(["10.0.0.0/8"], header=header)  # type: ignore[arg-type]
    assert str(refused.value).endswith(
        f"'forwarded', not {header!r}: name the one header your trusted proxies write"
    )


@given(
    st.lists(st.ip_addresses(v=4).map(str), min_size=1, max_size=5),
    st.lists(st.sampled_from(["10.0.0.1", "10.2.3.4"]), max_size=3),
)
def test_the_client_is_the_rightmost_untrusted_hop(clients: list[str], proxies: list[str]) -> None:
    trusted = Proxies(["10.0.0.0/8"])
    chain = clients + proxies
    expected = next(
        (hop for hop in reversed(chain) if parse_ip(hop) not in trusted.networks), chain[0]
    )
    found = client_address("10.9.9.9", {"x-forwarded-for": ", ".join(chain)}, trusted)
    assert found == parse_ip(expected)
    assert client_address("198.51.100.1", {"x-forwarded-for": ", ".join(chain)}, trusted) == (
        parse_ip("198.51.100.1")
    )
