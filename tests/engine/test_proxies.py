"""Behind proxies: the engine reads the one forwarding header the deployment names."""

from __future__ import annotations

import pytest
from conftest import Clock, behind_proxies

from policyengine.decision import Code
from policyengine.engine import Engine
from policyengine.errors import ConfigError
from policyengine.request import Request

OFFICE = "203.0.113.0/24"


def check(engine: Engine, headers: dict[str, str], peer: str = "10.0.0.5") -> Code:
    issued = engine.keys.create(
        type="read-only", label="office", environment="live", allowed_ips=[OFFICE]
    )
    request = Request(
        credential=issued.secret, method="GET", path="/v1/events", ip=peer, headers=headers
    )
    return engine.check(request).code


def test_a_client_sent_forwarded_header_cannot_choose_the_address(clock: Clock) -> None:
    # nginx appends the real peer to X-Forwarded-For and passes the client's Forwarded on.
    headers = {"Forwarded": "for=203.0.113.9", "X-Forwarded-For": "198.51.100.1"}
    with behind_proxies(clock) as engine:
        assert check(engine, headers) is Code.IP_NOT_ALLOWED


def test_a_client_sent_x_forwarded_for_is_ignored_when_proxies_write_forwarded(
    clock: Clock,
) -> None:
    with behind_proxies(clock, forwarded_header="forwarded") as engine:
        assert check(engine, {"X-Forwarded-For": "203.0.113.9"}) is Code.IP_NOT_ALLOWED
        assert check(engine, {"Forwarded": 'for="203.0.113.9:443";proto=https'}) is Code.OK
        smuggled = {"Forwarded": 'for="203.0.113.9,for=198.51.100.1"'}
        assert check(engine, smuggled) is Code.IP_NOT_ALLOWED


def test_an_unknown_forwarding_header_is_a_configuration_error(clock: Clock) -> None:
    with pytest.raises(ConfigError, match="'x-forwarded-for' or 'forwarded'"):
        behind_proxies(clock, forwarded_header="X-Real-IP")


@pytest.mark.parametrize(
    ("peer", "forwarded", "code"),
    [
        ("fd00::1", 'for="[2001:db8::1]:4711", for=203.0.113.9', Code.OK),
        ("fd00::1", "for=198.51.100.1;proto=https", Code.IP_NOT_ALLOWED),
        ("10.0.0.5", "for=203.0.113.9, for=10.0.0.7", Code.OK),
        ("10.0.0.5", "for=_hidden", Code.IP_NOT_ALLOWED),
        ("10.0.0.5", "for=unknown, for=10.0.0.7", Code.IP_NOT_ALLOWED),
        ("10.0.0.5", 'for=203.0.113.9;host="a,b"', Code.OK),
    ],
)
def test_forwarded_hops_are_read_from_the_right(
    clock: Clock, peer: str, forwarded: str, code: Code
) -> None:
    with behind_proxies(clock, forwarded_header="forwarded") as engine:
        assert check(engine, {"Forwarded": forwarded}, peer) is code
