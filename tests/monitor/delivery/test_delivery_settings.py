"""Delivery settings refuse what cannot work, and the jitter stays within its step."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from policyengine.errors import ConfigError
from policyengine.monitor.delivery_settings import (
    DEFAULT_SCHEDULE,
    DeliverySettings,
    full_jitter,
    parse_schedule,
)
from policyengine.net import NetworkSet, parse_ip


def test_the_default_schedule_makes_eight_attempts_over_about_a_day_and_a_half() -> None:
    settings = DeliverySettings()
    assert settings.schedule == DEFAULT_SCHEDULE == (5, 30, 120, 600, 3600, 21600, 86400)
    assert settings.attempts == 8
    assert 1.3 < sum(DEFAULT_SCHEDULE) / 86400 < 1.4


def test_a_schedule_may_be_written_as_durations() -> None:
    assert parse_schedule(["5s", "30s", "2m", 600, "1h"]) == (5, 30, 120, 600, 3600)
    assert DeliverySettings(schedule=("1s", "1m")).attempts == 3  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"schedule": ("5s", "soon")}, "invalid retry schedule step 'soon'"),
        ({"schedule": (5, -1)}, "a wait is 0 or more"),
        ({"schedule": (5, float("inf"))}, "a wait is 0 or more"),
        ({"timeout": 0}, "a delivery timeout is 0 to 300 seconds"),
        ({"timeout": 10, "batch": 5, "lease": 60}, "the lease \\(60s\\) must be at least twice"),
        ({"workers": -1}, "workers must be 0 or more"),
        ({"poll_interval": 0}, "poll interval"),
        (
            {"allow": ["10.0.0.1/8"]},
            "invalid allow list: invalid CIDR '10.0.0.1/8': it has host bits set",
        ),
        ({"allow": "127.0.0.1/32"}, "allow is a list of CIDRs"),
    ],
)
def test_settings_that_cannot_work_are_refused(options: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        DeliverySettings(**options)  # type: ignore[arg-type]


def test_an_allow_list_of_cidrs_becomes_a_network_set() -> None:
    allowed = DeliverySettings(allow=["127.0.0.1/32", "10.0.0.0/8"]).allowed
    assert isinstance(allowed, NetworkSet)
    assert parse_ip("10.9.8.7") in allowed
    assert parse_ip("127.0.0.2") not in allowed


@given(st.floats(min_value=0, max_value=86400 * 7, allow_nan=False))
def test_full_jitter_waits_between_zero_and_the_step(step: float) -> None:
    assert 0 <= full_jitter(step) <= step
