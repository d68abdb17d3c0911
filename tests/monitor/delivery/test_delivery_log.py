"""The delivery log's backends, each held to the same behaviour: claims are exclusive,
leases run out, a lost lease cannot settle a delivery, pages and counts are right."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from keys.support import SECRET, policy_set

from policyengine.errors import ConfigError
from policyengine.keys.manager import KeyManager
from policyengine.monitor.delivery_log import (
    Attempt,
    Delivery,
    DeliveryError,
    DeliveryLog,
    DeliveryNotFound,
    DeliveryQuery,
    Outcome,
    open_delivery_log,
)
from policyengine.monitor.delivery_sql import MIGRATIONS, SqlDeliveryLog

T0 = datetime(2030, 1, 15, 12, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def delivery(number: int, target: str = "hook_1", created: float | None = None) -> Delivery:
    moment = at(number if created is None else created)
    return Delivery(
        id=f"msg_{number:03d}",
        target=target,
        url="https://hooks.example/in",
        event_type="key.revoked",
        body=f'{{"type":"key.revoked","timestamp":"x","data":{{"n":{number}}}}}',
        state="pending",
        created_at=moment,
        next_attempt_at=moment,
        delivered_at=None,
        tries=0,
    )


def failed(number: int = 0, started: float = 0.0) -> Attempt:
    return Attempt(number, at(started), 0.25, 500, "HTTP 500")


@pytest.fixture
def log(store_url: str) -> Iterator[DeliveryLog]:
    opened = open_delivery_log(store_url)
    yield opened
    opened.close()


def test_a_delivery_reads_back_as_it_was_added(log: DeliveryLog) -> None:
    first = delivery(1)
    assert log.add(first)
    assert log.get(first.id) == first
    assert first.payload == {"n": 1}
    assert log.get("msg_none") is None


def test_adding_a_taken_id_changes_nothing(log: DeliveryLog) -> None:
    assert log.add(delivery(1))
    assert not log.add(replace(delivery(1), target="hook_other"))
    assert log.get("msg_001") == delivery(1)


def test_a_claimed_delivery_is_not_claimed_again_until_its_lease_runs_out(log: DeliveryLog) -> None:
    for number in (1, 2, 3):
        log.add(delivery(number))
    first = log.claim(at(10), at(70), "worker-a", 2)
    assert [claim.delivery.id for claim in first] == ["msg_001", "msg_002"]
    second = log.claim(at(11), at(71), "worker-b", 5)
    assert [claim.delivery.id for claim in second] == ["msg_003"]
    assert log.claim(at(69), at(129), "worker-c", 5) == []
    taken_over = log.claim(at(70), at(130), "worker-c", 5)
    assert [claim.delivery.id for claim in taken_over] == ["msg_001", "msg_002"]


def test_nothing_is_claimed_before_it_is_due(log: DeliveryLog) -> None:
    log.add(delivery(5))
    assert log.claim(at(4), at(60), "w", 5) == []
    assert log.next_due() == at(5)
    assert len(log.claim(at(5), at(60), "w", 5)) == 1
    assert log.next_due() == at(60)  # held by the lease until then


def test_finishing_logs_the_attempt_and_moves_the_state(log: DeliveryLog) -> None:
    log.add(delivery(1))
    [claim] = log.claim(at(1), at(61), "w", 1)
    log.finish(claim, failed(started=1), Outcome("retrying", 1, at(31), None))
    stored = log.get("msg_001")
    assert stored is not None
    assert (stored.state, stored.tries, stored.next_attempt_at) == ("retrying", 1, at(31))
    assert stored.attempts == (Attempt(1, at(1), 0.25, 500, "HTTP 500"),)
    assert log.claim(at(30), at(90), "w", 1) == []
    [again] = log.claim(at(31), at(91), "w", 1)
    log.finish(again, Attempt(0, at(31), 0.5, 204, None), Outcome("delivered", 2, None, at(31.5)))
    stored = log.get("msg_001")
    assert stored is not None
    assert (stored.state, stored.delivered_at, stored.next_attempt_at) == (
        "delivered",
        at(31.5),
        None,
    )
    assert [attempt.number for attempt in stored.attempts] == [1, 2]
    assert log.next_due() is None


def test_a_worker_whose_lease_was_taken_over_logs_its_attempt_but_settles_nothing(
    log: DeliveryLog,
) -> None:
    log.add(delivery(1))
    [stale] = log.claim(at(1), at(2), "slow", 1)
    [current] = log.claim(at(2), at(62), "fresh", 1)
    log.finish(stale, failed(started=1), Outcome("dead", 1, None, None))
    stored = log.get("msg_001")
    assert stored is not None
    assert stored.state == "pending"
    assert len(stored.attempts) == 1
    log.finish(current, Attempt(0, at(2), 0.1, 200, None), Outcome("delivered", 1, None, at(2)))
    stored = log.get("msg_001")
    assert stored is not None
    assert stored.state == "delivered"
    assert [(a.number, a.status) for a in stored.attempts] == [(1, 500), (2, 200)]


def test_released_claims_are_due_again_at_once(log: DeliveryLog) -> None:
    log.add(delivery(1))
    claims = log.claim(at(1), at(61), "w", 1)
    log.release(claims)
    assert [claim.delivery.id for claim in log.claim(at(1), at(61), "v", 1)] == ["msg_001"]


def test_requeue_restarts_the_schedule_and_keeps_the_history(log: DeliveryLog) -> None:
    log.add(delivery(1))
    [claim] = log.claim(at(1), at(61), "w", 1)
    log.finish(claim, failed(started=1), Outcome("dead", 4, None, None))
    replayed = log.requeue("msg_001", at(100))
    assert (replayed.state, replayed.tries, replayed.next_attempt_at) == ("pending", 0, at(100))
    assert len(replayed.attempts) == 1
    assert log.get("msg_001") == replayed


def test_requeue_refuses_a_delivery_in_flight_and_an_unknown_one(log: DeliveryLog) -> None:
    log.add(delivery(1))
    log.claim(at(1), at(61), "w", 1)
    with pytest.raises(DeliveryError, match="being attempted now"):
        log.requeue("msg_001", at(2))
    with pytest.raises(DeliveryNotFound):
        log.requeue("msg_404", at(2))
    assert log.requeue("msg_001", at(61)).state == "pending"


def test_lists_are_newest_first_per_target_and_paged(log: DeliveryLog) -> None:
    for number in range(1, 8):
        log.add(delivery(number, target="hook_a" if number % 2 else "hook_b", created=number // 2))
    page = log.list(DeliveryQuery(limit=3, target="hook_a"))
    assert [d.id for d in page] == ["msg_007", "msg_005", "msg_003"]
    last = page[-1]
    rest = log.list(DeliveryQuery(limit=3, target="hook_a", after=(last.created_at, last.id)))
    assert [d.id for d in rest] == ["msg_001"]
    everything = log.list(DeliveryQuery(limit=10))
    assert [d.id for d in everything] == [
        "msg_007",
        "msg_006",
        "msg_005",
        "msg_004",
        "msg_003",
        "msg_002",
        "msg_001",
    ]
    assert log.list(DeliveryQuery(limit=10, state="dead")) == []


def test_counts_are_by_state_and_target(log: DeliveryLog) -> None:
    for number in (1, 2, 3):
        log.add(delivery(number, target="hook_a" if number < 3 else "hook_b"))
    [claim] = log.claim(at(1), at(61), "w", 1)
    log.finish(claim, failed(), Outcome("dead", 1, None, None))
    assert dict(log.counts("hook_a")) == {"pending": 1, "retrying": 0, "delivered": 0, "dead": 1}
    assert dict(log.counts(None)) == {"pending": 2, "retrying": 0, "delivered": 0, "dead": 1}


def test_the_delivery_log_shares_a_sqlite_file_with_the_key_store(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'policyengine.db'}"
    keys = KeyManager.open(url, policy_set, secret=SECRET, maintenance_interval=None)
    issued = keys.create(type="read-only", label="beside the deliveries", environment="test")
    log = open_delivery_log(url)
    try:
        assert isinstance(log, SqlDeliveryLog)
        assert log.schema_version() == MIGRATIONS[-1].version
        log.add(delivery(1))
        assert keys.get(issued.key.id).label == "beside the deliveries"
    finally:
        log.close()
        keys.close()
    reopened = open_delivery_log(url)
    try:
        assert reopened.get("msg_001") == delivery(1)
    finally:
        reopened.close()


def test_an_unknown_log_url_is_a_configuration_error() -> None:
    with pytest.raises(ConfigError, match="unknown delivery log URL") as caught:
        open_delivery_log("redis://user:pw@h")
    assert "pw" not in str(caught.value)


def test_pruning_removes_old_finished_deliveries_and_keeps_waiting_ones(log: DeliveryLog) -> None:
    for number in (1, 2, 3, 4):
        log.add(delivery(number))
    for claim, state in zip(
        log.claim(at(4), at(64), "w", 3), ("delivered", "dead", "retrying"), strict=True
    ):
        log.finish(
            claim,
            failed(started=4),
            Outcome(state, 1, at(100) if state == "retrying" else None, None),
        )
    assert log.prune(at(2)) == 1  # msg_001: delivered, created before the cutoff
    assert log.prune(at(10)) == 1  # msg_002: dead; msg_003 retrying and msg_004 pending stay
    assert log.get("msg_001") is None
    assert log.get("msg_002") is None
    assert [d.id for d in log.list(DeliveryQuery(limit=10))] == ["msg_004", "msg_003"]
    remaining = log.get("msg_003")
    assert remaining is not None
    assert len(remaining.attempts) == 1
    assert log.prune(at(10)) == 0
