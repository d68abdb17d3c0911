"""Limiter URLs, the scheme registry, and what an outage means for a set of limits."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from policyengine.errors import ConfigError
from policyengine.limits import LimitOutcome, fails_open, open_limiter, register_scheme
from policyengine.policy.model import RateLimit
from policyengine.record import Usage
from policyengine.units import parse_rate


@pytest.mark.parametrize("url", ["", "localhost:6379", "memory", None])
def test_a_url_without_a_scheme_is_a_config_error(url: str) -> None:
    with pytest.raises(ConfigError, match="scheme"):
        open_limiter(url)


def test_an_unknown_scheme_is_a_config_error_that_lists_the_known_ones() -> None:
    with pytest.raises(ConfigError, match=r"memory://.*redis://") as raised:
        open_limiter("memcached://admin:s3cret@cache:11211")
    assert "s3cret" not in str(raised.value)


def test_a_backend_registers_under_its_own_scheme() -> None:
    @register_scheme("always-test")
    class Always:
        def __init__(self, url: str, *, verdict: bool = True) -> None:
            self.url, self.verdict = url, verdict

        def acquire(
            self, key_id: str, limits: Sequence[RateLimit], usage: Usage | None, now: float
        ) -> LimitOutcome:
            return LimitOutcome(self.verdict, None, (), (), 0)

        peek = acquire

        def reset(self, key_id: str) -> None: ...

        def close(self) -> None: ...

    limiter = open_limiter("always-test://here", verdict=False)
    assert isinstance(limiter, Always)
    assert limiter.url == "always-test://here"
    assert not limiter.acquire("k", (), None, 0.0).allowed


def test_an_outage_lets_a_request_through_only_if_every_limit_fails_open() -> None:
    open_ = RateLimit("burst", parse_rate("10/second"), on_error="allow")
    closed = RateLimit("daily", parse_rate("1000/day"))
    assert fails_open((open_,), None)
    assert not fails_open((open_, closed), None)
    assert not fails_open((open_,), Usage(100, "monthly"))  # credits always fail closed
