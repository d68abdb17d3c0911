"""The SSRF guard: which URLs and addresses a webhook may reach, and that a host is
resolved exactly once, by the resolver the deployment gives."""

from __future__ import annotations

import ipaddress
import re
import socket

import pytest
from hypothesis import given
from hypothesis import strategies as st

from policyengine.monitor.targets import (
    TargetRefused,
    check_target,
    parse_target_url,
    refusal,
    system_resolver,
)
from policyengine.net import NetworkSet

from .conftest import LOOPBACK


def resolver_of(*answers: str) -> tuple[list[str], object]:
    asked: list[str] = []

    def resolve(host: str, port: int) -> list[str]:
        asked.append(host)
        return list(answers)

    return asked, resolve


def no_lookup(host: str, port: int) -> list[str]:
    raise AssertionError(f"{host} should not have been looked up")


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("10.1.2.3", "a private address"),
        ("172.16.0.1", "a private address"),
        ("192.168.1.1", "a private address"),
        ("127.0.0.1", "a loopback address"),
        ("127.8.9.10", "a loopback address"),
        ("169.254.169.254", "a link-local address"),
        ("0.0.0.0", "an unspecified address"),
        ("224.0.0.1", "a multicast address"),
        ("100.64.0.1", "a reserved address"),
        ("::1", "a loopback address"),
        ("::", "an unspecified address"),
        ("fe80::1", "a link-local address"),
        ("fd12:3456::1", "a unique-local address"),
        ("ff02::1", "a multicast address"),
        ("::ffff:127.0.0.1", "an IPv6 form of 127.0.0.1, a loopback address"),
        ("::ffff:10.0.0.1", "an IPv6 form of 10.0.0.1, a private address"),
        ("::ffff:169.254.169.254", "an IPv6 form of 169.254.169.254, a link-local address"),
        ("64:ff9b::a00:1", "an IPv6 form of 10.0.0.1, a private address"),
        ("2002:a00:1::1", "an IPv6 form of 10.0.0.1, a private address"),
        ("::7f00:1", "an IPv6 form of 127.0.0.1, a loopback address"),
    ],
)
def test_non_public_addresses_are_refused_with_their_kind(address: str, kind: str) -> None:
    reason = refusal(address)
    assert (
        reason == f"{ipaddress.ip_address(address)} is {kind}, and the allow list does not name it"
    )


@pytest.mark.parametrize(
    "address", ["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946", "::ffff:8.8.8.8"]
)
def test_public_addresses_are_accepted(address: str) -> None:
    assert refusal(address) is None


@pytest.mark.parametrize(
    "url",
    [
        "http://10.0.0.7/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]:8080/",
        "https://[::ffff:127.0.0.1]/",
        "http://[fd00::5]/",
        "http://0.0.0.0:9000/",
    ],
)
def test_an_address_in_the_url_is_refused_without_any_lookup(url: str) -> None:
    with pytest.raises(TargetRefused, match="allow list does not name it"):
        check_target(url, resolver=no_lookup)


def test_the_allow_list_admits_exactly_what_it_names_in_either_ip_form() -> None:
    assert check_target("http://127.0.0.1:8080/", allow=LOOPBACK).addresses == ("127.0.0.1",)
    assert check_target("http://[::ffff:127.0.0.1]/", allow=LOOPBACK).addresses == (
        "::ffff:127.0.0.1",
    )
    with pytest.raises(TargetRefused, match=re.escape("127.0.0.2 is a loopback address")):
        check_target("http://127.0.0.2/", allow=LOOPBACK)
    with pytest.raises(TargetRefused, match="::1 is a loopback address"):
        check_target("http://[::1]/", allow=LOOPBACK)


def test_a_host_is_resolved_once_and_every_answer_must_pass() -> None:
    asked, resolve = resolver_of("93.184.216.34", "10.0.0.9")
    with pytest.raises(TargetRefused, match=re.escape("10.0.0.9 is a private address")):
        check_target("https://hooks.example/in", resolver=resolve)  # type: ignore[arg-type]
    assert asked == ["hooks.example"]
    asked, resolve = resolver_of("93.184.216.34")
    target = check_target("https://Hooks.Example.:8443/in?x=1", resolver=resolve)  # type: ignore[arg-type]
    assert asked == ["hooks.example"]
    assert (target.url.host, target.url.port, target.url.path) == ("hooks.example", 8443, "/in?x=1")
    assert target.addresses == ("93.184.216.34",)


def test_a_host_that_does_not_resolve_is_refused_with_the_resolver_s_words() -> None:
    def fails(host: str, port: int) -> list[str]:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    with pytest.raises(
        TargetRefused, match=re.escape("cannot resolve nowhere.example: Name or service not known")
    ):
        check_target("http://nowhere.example/", resolver=fails)
    with pytest.raises(TargetRefused, match="resolves to no address"):
        check_target("http://empty.example/", resolver=resolver_of()[1])  # type: ignore[arg-type]


def test_numeric_host_spellings_are_judged_by_the_address_they_resolve_to() -> None:
    # 2130706433 and 0x7f.1 are 127.0.0.1 to the C library's resolver.
    for host in ("2130706433", "0x7f.1"):
        with pytest.raises(TargetRefused, match=re.escape("127.0.0.1 is a loopback address")):
            check_target(f"http://{host}/", resolver=system_resolver)


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("ftp://example.com/", "the scheme must be http or https, not 'ftp'"),
        ("file:///etc/passwd", "the scheme must be http or https"),
        ("javascript:alert(1)", "the scheme must be http or https"),
        ("example.com/hook", "the scheme must be http or https, not 'none'"),
        ("http:///hook", "it has no host"),
        ("https://user:pw@example.com/", "credentials in the URL are not accepted"),
        ("https://example.com/a b", "spaces or control characters"),
        ("https://example.com:99999/", "not a valid URL"),
        ("https://example.com/é", "percent-encode"),
        ("https://example.com/" + "a" * 2100, "longer than 2048"),
        ("", "non-empty string"),
    ],
)
def test_malformed_urls_are_refused_before_any_lookup(url: str, reason: str) -> None:
    with pytest.raises(TargetRefused) as caught:
        check_target(url, resolver=no_lookup)
    assert reason in caught.value.reason
    assert caught.value.code == "webhook_target_refused"


def test_an_international_host_name_is_sent_as_idna() -> None:
    assert parse_target_url("https://bücher.example/h").host == "xn--bcher-kva.example"


private_v4 = st.sampled_from(
    ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "127.0.0.0/8", "169.254.0.0/16"]
).flatmap(
    lambda cidr: st.integers(0, ipaddress.ip_network(cidr).num_addresses - 1).map(
        lambda offset, cidr=cidr: ipaddress.ip_network(cidr)[offset]
    )
)


@given(private_v4)
def test_every_private_ipv4_address_is_refused_in_each_of_its_forms(
    address: ipaddress.IPv4Address,
) -> None:
    forms = [
        str(address),
        f"::ffff:{address}",
        str(ipaddress.IPv6Address((0x64FF9B << 96) | int(address))),
    ]
    assert all(refusal(form) is not None for form in forms)
    allowed = NetworkSet([f"{address}/32"])
    assert refusal(str(address), allowed) is None
    assert refusal(f"::ffff:{address}", allowed) is None


@given(st.integers(0, 2**32 - 1).map(ipaddress.IPv4Address))
def test_an_ipv4_address_and_its_mapped_form_are_judged_alike(
    address: ipaddress.IPv4Address,
) -> None:
    assert (refusal(str(address)) is None) == (refusal(f"::ffff:{address}") is None)


@pytest.mark.parametrize(
    "url",
    ["http://[fe80::1%25lo]:8080/", "http://[fe80::1%eth0]/", "https://[2606:4700::1%251]/"],
)
def test_an_ipv6_address_with_a_zone_is_refused_even_when_the_allow_list_names_it(
    url: str,
) -> None:
    allow = NetworkSet(["fe80::/10", "2606:4700::/32"])
    with pytest.raises(TargetRefused, match="zone"):
        check_target(url, allow=allow, resolver=no_lookup)


def test_a_resolver_answer_with_a_zone_is_refused_not_raised() -> None:
    _, resolve = resolver_of("fe80::1%eth0")
    with pytest.raises(TargetRefused, match="zone"):
        check_target("http://hooks.example.com/", resolver=resolve)  # type: ignore[arg-type]
