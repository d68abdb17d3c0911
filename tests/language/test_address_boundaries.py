"""A network's first and last address, written as a rule author writes them: a single CIDR,
a list of them, and a key's own allow list. A random search meets these edges only
sometimes, so each is pinned here by example."""

from __future__ import annotations

import pytest
import reference
from hypothesis import given
from hypothesis import strategies as st
from strategies import ADDRESSES, CIDRS
from test_conditions import KEY, holds, request

from policyengine.language.checker import check
from policyengine.language.parser import parse
from policyengine.net import NetworkSet, parse_ip, parse_network

EDGES = [
    # (network, inside at its edges, just outside)
    ("198.51.100.0/24", ["198.51.100.0", "198.51.100.255"], ["198.51.99.255", "198.51.101.0"]),
    ("198.51.100.0/32", ["198.51.100.0"], ["198.51.99.255", "198.51.100.1"]),
    ("10.0.0.0/8", ["10.0.0.0", "10.255.255.255"], ["9.255.255.255", "11.0.0.0"]),
    (
        "2001:db8::/32",
        ["2001:db8::", "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff"],
        ["2001:db7:ffff:ffff:ffff:ffff:ffff:ffff", "2001:db9::"],
    ),
    ("2001:db8::1/128", ["2001:db8::1"], ["2001:db8::", "2001:db8::2"]),
]


@pytest.mark.parametrize(("network", "inside", "outside"), EDGES)
def test_a_single_cidr_in_a_rule_holds_its_first_and_last_address(
    network: str, inside: list[str], outside: list[str]
) -> None:
    for address in inside:
        assert holds(f"request.ip in {network}", request(address)), address
    for address in outside:
        assert not holds(f"request.ip in {network}", request(address)), address


@pytest.mark.parametrize(("network", "inside", "outside"), EDGES)
def test_a_cidr_in_a_list_holds_its_first_and_last_address(
    network: str, inside: list[str], outside: list[str]
) -> None:
    condition = f'request.ip in [192.0.2.7/32, "{network}"]'
    for address in inside:
        assert holds(condition, request(address)), address
    for address in outside:
        assert not holds(condition, request(address)), address


@pytest.mark.parametrize(("network", "inside", "outside"), EDGES)
def test_a_network_set_holds_its_first_and_last_address(
    network: str, inside: list[str], outside: list[str]
) -> None:
    networks = NetworkSet([network])
    first, last = parse_network(network)
    assert first in networks
    assert last in networks
    assert first - 1 not in networks
    assert last + 1 not in networks
    for address in inside:
        assert parse_ip(address) in networks, address
    for address in outside:
        assert parse_ip(address) not in networks, address


def test_an_ipv4_mapped_client_is_at_the_same_edges() -> None:
    assert holds("request.ip in 198.51.100.0/32", request("::ffff:198.51.100.0"))
    assert not holds("request.ip in 198.51.100.0/32", request("::ffff:198.51.100.1"))
    assert holds("request.ip in 10.0.0.0/8", request("::ffff:10.255.255.255"))


def test_the_keys_allow_list_in_a_condition_holds_its_edges() -> None:
    assert KEY.allowed_ips == ("10.0.0.0/8", "2001:db8::/32")
    assert holds("request.ip in key.allowed_ips", request("10.0.0.0"))
    assert holds("request.ip in key.allowed_ips", request("10.255.255.255"))
    assert not holds("request.ip in key.allowed_ips", request("11.0.0.0"))
    assert holds("request.ip in key.allowed_ips", request("2001:db8::"))


@pytest.mark.parametrize(
    ("condition", "client", "expected"),
    [
        # An address written among networks is the one-address network it names.
        ("request.ip in [10.1.2.3, 192.168.0.0/16]", "10.1.2.3", True),
        ("request.ip in [10.1.2.3, 192.168.0.0/16]", "10.1.2.4", False),
        # The client's own address among networks, wherever it stands in the list.
        ("request.ip in [request.ip, 192.168.0.0/16]", "10.1.2.3", True),
        ("198.51.100.7 in [request.ip, 192.168.0.0/16]", "10.1.2.3", False),
        ("198.51.100.7 in [request.ip, 192.168.0.0/16]", "198.51.100.7", True),
        ("192.168.4.4 not in [192.168.0.0/16, request.ip]", "10.1.2.3", False),
        ("len([10.0.0.1, 10.0.0.0/8, request.ip]) == 3", "10.1.2.3", True),
    ],
)
def test_an_address_among_networks_is_a_one_address_network(
    condition: str, client: str, expected: bool
) -> None:
    assert holds(condition, request(client)) is expected


@given(
    left=st.sampled_from(["request.ip", *ADDRESSES]),
    negated=st.booleans(),
    items=st.lists(st.sampled_from([*CIDRS, *ADDRESSES, "request.ip"]), min_size=1, max_size=4),
    client=st.sampled_from(ADDRESSES),
)
def test_membership_among_addresses_and_networks_is_the_references(
    left: str, negated: bool, items: list[str], client: str
) -> None:
    source = f"{left} {'not in' if negated else 'in'} [{', '.join(items)}]"
    env = {"request.ip": reference.address(client)}
    expected = reference.evaluate(check(parse(source), frozenset()), env)
    assert holds(source, request(client)) is expected, source
