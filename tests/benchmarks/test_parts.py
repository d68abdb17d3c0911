"""The harness's parts that its numbers rest on: the statistics, the hand-written floor,
the peers' translations of tDoc's policies, the parsing of wrk's report."""

from __future__ import annotations

import hmac
from pathlib import Path

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from benchmarks import peers
from benchmarks.cerbos import write_policies as write_cerbos_policies
from benchmarks.fixtures import INSIDE, NETWORK, OUTSIDE, policy_set
from benchmarks.handwritten import handwritten_checker, hmac_sha256
from benchmarks.timing import Budget, Sample, interleaved, ratio
from benchmarks.web import cpu_seconds, parse_requests, parse_wrk

KEY = "tdoc_live_0123456789abcdefghijABCDEFGHIJ000000"


def test_a_ratio_is_taken_round_by_round() -> None:
    share = ratio(Sample((2.0, 9.0, 3.0)), Sample((1.0, 3.0, 1.0)))
    assert share.values == (2.0, 3.0, 3.0)
    assert share.median == 3.0
    with pytest.raises(ValueError, match="same rounds"):
        ratio(Sample((1.0,)), Sample((1.0, 2.0)))


def test_interleaved_cases_share_every_round_in_a_changing_order() -> None:
    seen: list[str] = []
    cases = {name: (lambda name=name: seen.append(name)) for name in "abc"}
    samples = interleaved(cases, Budget(rounds=4, batch=0.0001, warmup=0.0))
    assert {name: len(sample.values) for name, sample in samples.items()} == dict.fromkeys("abc", 4)
    assert all(sample.calls >= 4 for sample in samples.values())
    # The first case of each round's batches differs from round to round.
    firsts = []
    last = None
    for name in seen:
        if name != last:
            firsts.append(name)
        last = name
    assert len(set(firsts[-12::3])) > 1


@given(st.binary(max_size=64), st.text(max_size=80))
def test_the_floor_hashes_as_hmac_does(secret: bytes, text: str) -> None:
    assert hmac_sha256(secret)(text) == hmac.digest(secret, text.encode(), "sha256")


def test_the_floor_decides_as_the_policy_does() -> None:
    check = handwritten_checker(
        b"s" * 40, KEY, scopes=["events:read"], cidrs=[NETWORK], per_minute=2
    )
    assert check(KEY, "GET", "/v1/events", INSIDE) == 200
    assert check(KEY[:-1] + "1", "GET", "/v1/events", INSIDE) == 401
    assert check(KEY, "GET", "/v1/events", OUTSIDE) == 403
    assert check(KEY, "GET", "/v1/events", "not an address") == 403
    assert check(KEY, "POST", "/v1/events", INSIDE) == 403
    assert check(KEY, "GET", "/v1/events", INSIDE) == 200  # two a minute, both at once
    assert check(KEY, "GET", "/v1/events", INSIDE) == 429


def test_the_peers_decide_as_tdocs_policies_do() -> None:
    # Each builder asks its peer an allowed and a denied question and raises if it errs.
    assert peers.casbin_check()() is True
    assert peers.cedar_check()() is True


def test_cerbos_gets_a_resource_policy_for_each_resource_a_role_may_use(tmp_path: Path) -> None:
    write_cerbos_policies(tmp_path)
    kinds = {}
    for path in tmp_path.glob("*.yaml"):
        policy = yaml.safe_load(path.read_text())["resourcePolicy"]
        kinds[policy["resource"]] = policy["rules"]
    assert set(kinds) == {"events", "tasks", "hooks", "keys"}
    readers = [rule for rule in kinds["events"] if rule["roles"] == ["read-only"]]
    assert [rule["actions"] for rule in readers] == [["read"]]
    assert any(rule["effect"] == "EFFECT_DENY" for rule in kinds["events"])


def test_extra_rules_load_as_rules_of_their_own() -> None:
    assert len(policy_set(5).rules) == len(policy_set().rules) + 5


WRK = """Running 3s test @ http://127.0.0.1:8000/v1/events
  1 threads and 8 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     2.50ms  300.00us   8.00ms   90.00%
  9000 requests in 3.00s, 1.20MB read
{extra}Requests/sec:   3000.25
Transfer/sec:    400.00KB
"""


def test_wrk_reports_are_read_with_their_failures() -> None:
    assert parse_wrk(WRK.format(extra="")) == (3000.25, 0)
    refused = WRK.format(extra="  Non-2xx or 3xx responses: 17\n")
    assert parse_wrk(refused) == (3000.25, 17)
    broken = WRK.format(extra="  Socket errors: connect 1, read 2, write 0, timeout 3\n")
    assert parse_wrk(broken) == (3000.25, 6)


def test_wrk_reports_give_the_requests_answered() -> None:
    assert parse_requests(WRK.format(extra="")) == 9000


def test_a_processes_cpu_time_grows_with_its_work() -> None:
    import os
    import sys
    import time

    before = cpu_seconds(os.getpid())
    if before is None:
        pytest.skip("no /proc here")
    started = time.process_time()
    while time.process_time() - started < 0.1:
        pass
    after = cpu_seconds(os.getpid())
    assert after is not None
    assert after - before >= 0.05
    assert cpu_seconds(2**22 + 7 if sys.platform == "linux" else -1) is None
