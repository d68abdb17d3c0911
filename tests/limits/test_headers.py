"""The IETF RateLimit header fields, as a client parses them."""

from __future__ import annotations

import pytest
from hypothesis import given, settings

from policyengine.limits import LimitOutcome, MemoryLimiter, RateLimitHeaders, rate_limit_headers
from policyengine.limits.headers import (
    limit_field,
    policy_field,
    retry_after_field,
    sf_string,
)
from policyengine.limits.usage import current_period
from policyengine.policy.model import RateLimit
from policyengine.record import Usage
from policyengine.units import make_rate, parse_rate

from .conftest import MIDNIGHT
from .strategies import limit_sets, request_times

LIMITS = (
    RateLimit("burst", make_rate(10, 1.0, 3)),
    RateLimit("daily", parse_rate("1000/day")),
)


def test_an_admitted_request_lists_every_policy_and_what_is_left_of_each() -> None:
    limiter = MemoryLimiter()
    outcome = limiter.acquire("k", LIMITS, Usage(500, "daily"), MIDNIGHT + 3_600)
    assert rate_limit_headers(outcome) == {
        "RateLimit-Policy": '"burst";q=10;w=1, "daily";q=1000;w=86400, "usage";q=500;w=86400',
        # burst: full again in 0.1 s; daily: in 86.4 s; credits: at midnight, 23 h away
        "RateLimit": '"burst";r=2;t=1, "daily";r=999;t=87, "usage";r=499;t=82800',
    }


def test_a_rate_limited_request_says_when_to_retry() -> None:
    limiter = MemoryLimiter()
    for _ in range(3):
        limiter.acquire("k", LIMITS, None, MIDNIGHT)
    denied = limiter.acquire("k", LIMITS, None, MIDNIGHT + 0.05)
    headers = rate_limit_headers(denied)
    # 0.05 s to wait: rounded up, so that retrying then succeeds; t says the same
    assert headers["Retry-After"] == "1"
    assert headers["RateLimit"] == '"burst";r=0;t=1, "daily";r=997;t=260'


def test_spent_lifetime_credits_give_no_retry_after_nor_window() -> None:
    limiter = MemoryLimiter()
    usage = Usage(1, "never")
    limiter.acquire("k", (), usage, MIDNIGHT)
    headers = rate_limit_headers(limiter.acquire("k", (), usage, MIDNIGHT))
    assert headers == {"RateLimit-Policy": '"usage";q=1', "RateLimit": '"usage";r=0'}


def test_a_key_without_limits_gets_no_headers() -> None:
    assert rate_limit_headers(MemoryLimiter().acquire("k", (), None, MIDNIGHT)) == {}


@pytest.mark.parametrize(
    ("seconds", "field"), [(0.001, "1"), (1.0, "1"), (1.000001, "2"), (59.5, "60"), (0.0, "1")]
)
def test_retry_after_is_whole_seconds_rounded_up(seconds: float, field: str) -> None:
    assert retry_after_field(seconds) == field


def test_names_are_structured_field_strings() -> None:
    assert sf_string('per "second"') == '"per \\"second\\""'
    assert sf_string("X-Export ~ 2") == '"X-Export ~ 2"'  # printable ASCII as it is
    assert sf_string("a\\b") == '"a\\\\b"'
    assert sf_string("café\n") == '"caf??"'


@settings(max_examples=200, deadline=None)
@given(limits=limit_sets(), times=request_times(60.0))
def test_headroom_and_headers_say_what_the_states_say(
    limits: tuple[tuple[RateLimit, ...], Usage | None], times: list[float]
) -> None:
    # Both are worked out without the states (the headers from parts kept per limit);
    # they must read as the outcome's states, denied or admitted, field by field.
    named, usage = limits
    limiter = MemoryLimiter()
    for offset in sorted(times):
        outcome = limiter.acquire("key_1", named, usage, MIDNIGHT + offset)
        states = [*outcome.states, *([outcome.usage] if outcome.usage is not None else [])]
        assert list(outcome.headroom()) == [(s.name, s.remaining, s.quota) for s in states]
        expected = {"RateLimit-Policy": policy_field(states), "RateLimit": limit_field(states)}
        if not outcome.allowed and outcome.retry_after is not None:
            expected["Retry-After"] = retry_after_field(outcome.retry_after)
        assert rate_limit_headers(outcome) == expected


def test_a_limit_renamed_or_changed_is_described_anew() -> None:
    # Parts are remembered per limit object: a new limit, even of the same name, or one
    # with another rate, is never described by an old one's parts.
    limiter = MemoryLimiter()
    first = rate_limit_headers(limiter.acquire("a", LIMITS[:1], None, MIDNIGHT))
    changed = (RateLimit("burst", parse_rate("7/minute")),)
    second = rate_limit_headers(limiter.acquire("b", changed, None, MIDNIGHT))
    assert first["RateLimit-Policy"] == '"burst";q=10;w=1'
    assert second["RateLimit-Policy"] == '"burst";q=7;w=60'
    assert second["RateLimit"] == '"burst";r=6;t=9'


def test_headers_as_an_asgi_server_sends_them() -> None:
    outcome = MemoryLimiter().acquire("k", LIMITS, None, MIDNIGHT)
    headers = RateLimitHeaders(outcome)
    assert dict(headers.items()) == rate_limit_headers(outcome)
    assert headers.encoded() == (
        (b"ratelimit-policy", b'"burst";q=10;w=1, "daily";q=1000;w=86400'),
        (b"ratelimit", b'"burst";r=2;t=1, "daily";r=999;t=87'),
    )
    assert headers.encoded() is headers.encoded()  # worked out once


def test_a_full_bucket_is_full_again_in_zero_seconds() -> None:
    outcome = MemoryLimiter().peek("k", LIMITS, None, MIDNIGHT)
    assert rate_limit_headers(outcome)["RateLimit"] == '"burst";r=3;t=0, "daily";r=1000;t=0'


def test_seconds_beyond_fifteen_digits_are_cut_to_the_largest_structured_field_integer() -> None:
    assert retry_after_field(1e18) == "999999999999999"
    assert retry_after_field(999_999_999_999_999.0) == "999999999999999"


def test_the_headers_of_an_outcome_read_as_a_mapping_of_what_rate_limit_headers_says() -> None:
    limiter = MemoryLimiter()
    outcome = limiter.acquire("k", LIMITS, Usage(500, "daily"), MIDNIGHT)
    headers = RateLimitHeaders(outcome)
    assert headers.outcome is outcome
    assert dict(headers) == rate_limit_headers(outcome)
    assert len(headers) == 2
    assert headers["RateLimit-Policy"] == rate_limit_headers(outcome)["RateLimit-Policy"]
    assert list(headers) == ["RateLimit-Policy", "RateLimit"]
    assert dict(headers) == rate_limit_headers(outcome)  # the second read is the first


def test_a_key_over_a_burst_lowered_since_gets_nothing_left_and_the_wait() -> None:
    # Ten requests at once were within the old burst; the policy now allows one at once,
    # so the stored TAT is a minute ahead where six seconds is the most the limit allows.
    limiter = MemoryLimiter()
    before = (RateLimit("default", parse_rate("10/minute")),)
    for _ in range(10):
        limiter.acquire("k", before, None, MIDNIGHT)
    lowered = (RateLimit("default", make_rate(10, 60.0, 1)),)
    denied = limiter.acquire("k", lowered, None, MIDNIGHT)
    assert rate_limit_headers(denied) == {
        "RateLimit-Policy": '"default";q=10;w=60',
        "RateLimit": '"default";r=0;t=60',
        "Retry-After": "60",
    }
    assert (denied.states[0].remaining, denied.states[0].reset) == (0, 60)
    assert denied.headroom() == (("default", 0, 10),)


def test_an_outcome_without_a_tat_for_each_limit_is_refused_not_half_described() -> None:
    # What a third-party backend might answer by mistake: the headers must not quietly
    # leave a limit out, nor the headroom.
    outcome = LimitOutcome(True, None, LIMITS, (0,), round(MIDNIGHT * 1_000_000))
    with pytest.raises(ValueError, match="zip"):
        rate_limit_headers(outcome)
    with pytest.raises(ValueError, match="zip"):
        outcome.headroom()


def test_an_outcome_told_of_credits_but_not_of_their_use_counts_none_used() -> None:
    usage = Usage(5, "never")
    outcome = LimitOutcome(True, None, (), (), 0, usage, current_period("never", 0))
    assert outcome.headroom() == (("usage", 5, 5),)
    assert rate_limit_headers(outcome)["RateLimit"] == '"usage";r=5'
