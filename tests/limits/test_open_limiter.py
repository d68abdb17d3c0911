"""Limiter URLs, the scheme registry, and what an outage means for a set of limits."""

from __future__ import annotations

import sys
from collections.abc import Sequence

import pytest

from policyengine.errors import ConfigError
from policyengine.limits import LimitOutcome, base, fails_open, open_limiter, register_scheme
from policyengine.policy.model import RateLimit
from policyengine.record import Usage
from policyengine.units import parse_rate


@pytest.mark.parametrize("url", ["", "localhost:6379", "memory", None])
def test_a_url_without_a_scheme_is_a_config_error(url: str) -> None:
    with pytest.raises(ConfigError) as raised:
        open_limiter(url)
    assert str(raised.value) == (
        f"invalid limiter URL {str(url)!r}: write a scheme and an address, such as "
        "memory:// or redis://localhost:6379/0"
    )


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


@pytest.fixture
def registry(monkeypatch: pytest.MonkeyPatch) -> dict[str, object]:
    """A scheme registry of this test's own, holding the memory and Redis backends."""
    schemes = {name: base._schemes[name] for name in ("memory", "redis", "rediss")}
    monkeypatch.setattr(base, "_schemes", schemes)
    return schemes  # type: ignore[return-value]


def test_the_known_schemes_listed_include_those_registered_by_others(
    registry: dict[str, object],
) -> None:
    registry["custom"] = dict
    with pytest.raises(ConfigError) as raised:
        open_limiter("memcached://admin:s3cret@cache:11211")
    assert str(raised.value) == (
        "unknown limiter URL scheme in 'memcached://admin:***@cache:11211': "
        "expected one of custom://, memory://, redis://, rediss://"
    )


def test_only_the_first_separator_ends_the_scheme(registry: dict[str, object]) -> None:
    registry["custom"] = lambda url: url
    assert open_limiter("custom://a?next=http://b") == "custom://a?next=http://b"  # type: ignore[comparison-overlap]


def test_a_built_in_backend_is_imported_when_its_scheme_is_first_asked_for(
    registry: dict[str, object], monkeypatch: pytest.MonkeyPatch
) -> None:
    registry.clear()
    monkeypatch.delitem(sys.modules, "policyengine.limits.memory")
    limiter = open_limiter("memory://")
    assert type(limiter).__name__ == "MemoryLimiter"
    assert limiter.acquire("k", (), None, 0.0).allowed


def test_a_redis_url_without_the_redis_package_says_what_to_install(
    registry: dict[str, object], monkeypatch: pytest.MonkeyPatch
) -> None:
    registry.clear()
    monkeypatch.delitem(sys.modules, "policyengine.limits.redis")
    monkeypatch.setitem(sys.modules, "redis", None)  # as if it were not installed
    with pytest.raises(ConfigError) as raised:
        open_limiter("redis://:s3cret@cache:6379/0")
    assert str(raised.value) == (
        "limiter URL 'redis://:***@cache:6379/0' needs the redis package: "
        "pip install 'policyengine[redis]'"
    )
