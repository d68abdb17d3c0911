"""Webhook delivery end to end: a loopback receiver gets signed deliveries, a failing one
sees the retries and a dead letter that replay revives, and the queue survives restarts."""

from __future__ import annotations

import itertools
import time
from datetime import timedelta

import pytest
import standardwebhooks
from keys.support import Clock

from policyengine.errors import MonitorError
from policyengine.monitor.delivery import DeliveryQueue
from policyengine.monitor.delivery_log import DeliveryError, DeliveryNotFound, open_delivery_log
from policyengine.monitor.targets import ResolvedTarget, TargetRefused
from policyengine.monitor.transport import Response
from policyengine.monitor.webhooks import generate_secret

from .conftest import QueueFactory, fast_settings, one_attempt
from .support import Answer, running_receiver, wait_for_state


def test_a_loopback_receiver_gets_a_delivery_it_verifies_with_standardwebhooks(
    store_url: str, make_queue: QueueFactory, secret: str
) -> None:
    with running_receiver(Answer(204)) as receiver:
        queue = make_queue(url=store_url)
        sent = queue.enqueue(
            "hook_1", receiver.url("/in?team=7"), "alert.raised", {"kind": "new_network"}
        )
        [got] = receiver.wait_for(1)
        payload = standardwebhooks.Webhook(secret).verify(got.body, got.headers)
        delivered = wait_for_state(queue, sent.id, "delivered")
    assert payload["type"] == "alert.raised"
    assert payload["data"] == {"kind": "new_network"}
    assert payload["timestamp"].endswith("Z")
    assert got.body == sent.body.encode()
    assert got.path == "/in?team=7"
    assert got.headers["webhook-id"] == sent.id
    assert got.headers["content-type"] == "application/json"
    assert [(a.number, a.status, a.error) for a in delivered.attempts] == [(1, 204, None)]
    assert delivered.delivered_at is not None
    assert dict(queue.counts("hook_1")) == {"pending": 0, "retrying": 0, "delivered": 1, "dead": 0}


def test_a_failing_receiver_sees_every_retry_then_a_dead_letter_that_replay_delivers(
    store_url: str, make_queue: QueueFactory, secret: str
) -> None:
    schedule = (0.05, 0.3, 0.6)
    failing = (Answer(500), Answer(503), Answer(delay=2.0), Answer(delay=2.0), Answer(200))
    with running_receiver(*failing) as receiver:
        queue = make_queue(
            url=store_url,
            settings=fast_settings(schedule=schedule, timeout=0.5),
            jitter=lambda wait: wait,
        )
        sent = queue.enqueue("hook_9", receiver.url(), "task.run.failed", {"run": "run_1"})
        dead = wait_for_state(queue, sent.id, "dead")
        time.sleep(0.8)  # longer than any wait in the schedule: no fifth attempt comes
        assert len(receiver.received) == 4
        assert [a.status for a in dead.attempts] == [500, 503, None, None]
        assert [a.error for a in dead.attempts[:2]] == ["HTTP 500", "HTTP 503"]
        assert all("timed out after 0.5s" in str(a.error) for a in dead.attempts[2:])
        assert {r.headers["webhook-id"] for r in receiver.received} == {sent.id}
        starts = [a.started_at for a in dead.attempts]
        gaps = [(later - earlier).total_seconds() for earlier, later in itertools.pairwise(starts)]
        for gap, attempt, wait in zip(gaps, dead.attempts[:-1], schedule, strict=True):
            assert gap >= attempt.duration + wait - 0.005
        assert gaps == sorted(gaps)
        assert dead.next_attempt_at is None

        replayed = queue.replay(sent.id)
        assert (replayed.state, replayed.tries) == ("pending", 0)
        delivered = wait_for_state(queue, sent.id, "delivered")
        assert len(receiver.received) == 5
        standardwebhooks.Webhook(secret).verify(
            receiver.received[-1].body, receiver.received[-1].headers
        )
    assert [a.status for a in delivered.attempts] == [500, 503, None, None, 200]
    assert dict(queue.counts()) == {"pending": 0, "retrying": 0, "delivered": 1, "dead": 0}


def answering(*statuses: int):  # type: ignore[no-untyped-def]
    """A stand-in for the HTTP POST that answers the given statuses, for clock tests."""
    calls: list[ResolvedTarget] = []
    answers = list(statuses)

    def post(
        target: ResolvedTarget, headers: dict[str, str], body: bytes, **options: object
    ) -> Response:
        calls.append(target)
        return Response(answers.pop(0) if len(answers) > 1 else answers[0])

    return calls, post


def clocked_queue(
    clock: Clock, post, secrets=lambda target: generate_secret(), **settings: object
) -> DeliveryQueue:  # type: ignore[no-untyped-def]
    return DeliveryQueue(
        open_delivery_log("memory://"),
        secrets,
        fast_settings(**({"schedule": ("5s", "30s", "2m")} | settings)),
        clock=clock,
        resolver=lambda host, port: ["93.184.216.34"],
        jitter=lambda wait: wait / 2,
        post=post,
        start=False,
    )


def test_retries_wait_a_jittered_step_of_the_schedule_by_the_queue_s_clock(clock: Clock) -> None:
    calls, post = answering(500)
    queue = clocked_queue(clock, post)
    sent = queue.enqueue("hook_1", "https://hooks.example/in", "key.revoked", {})
    expected = [2.5, 15.0, 60.0]
    for number, wait in enumerate(expected, start=1):
        assert queue.run_due() == 1
        after = queue.get(sent.id)
        assert after is not None
        assert (after.state, after.tries) == ("retrying", number)
        assert after.next_attempt_at == clock.now + timedelta(seconds=wait)
        clock.advance(seconds=wait - 0.001)
        assert queue.run_due() == 0
        clock.advance(seconds=0.001)
    assert queue.run_due() == 1
    dead = queue.get(sent.id)
    assert dead is not None
    assert dead.state == "dead"
    assert len(calls) == 4
    queue.close()


def test_a_target_without_a_secret_is_dead_at_once(clock: Clock) -> None:
    calls, post = answering(204)
    queue = clocked_queue(clock, post, secrets=lambda target: None)
    sent = queue.enqueue("hook_gone", "https://hooks.example/in", "key.revoked", {})
    queue.run_due()
    dead = queue.get(sent.id)
    assert dead is not None
    assert dead.state == "dead"
    assert dead.attempts[0].error == "target 'hook_gone' has no signing secret"
    assert calls == []
    queue.close()


def test_a_private_target_is_refused_at_the_attempt_and_logged_with_the_reason(
    make_queue: QueueFactory,
) -> None:
    with running_receiver() as receiver:
        queue = make_queue(settings=one_attempt(allow=()), start=False)
        sent = queue.enqueue("hook_1", receiver.url(), "key.revoked", {})
        assert queue.run_due() == 1
        assert receiver.received == []
    after = queue.get(sent.id)
    assert after is not None
    assert after.state == "retrying"
    assert after.attempts[0].status is None
    assert after.attempts[0].error == (
        "refused: 127.0.0.1 is a loopback address, and the allow list does not name it"
    )


def test_the_connection_goes_to_the_address_resolved_once_with_the_url_s_host(
    make_queue: QueueFactory, secret: str
) -> None:
    asked: list[str] = []

    def resolver(host: str, port: int) -> list[str]:
        asked.append(host)
        return ["127.0.0.1"]

    with running_receiver() as receiver:
        # hooks.invalid resolves nowhere: only a connection to the answer above can succeed.
        queue = make_queue(resolver=resolver, start=False)
        sent = queue.enqueue("hook_1", receiver.url(host="hooks.invalid"), "key.revoked", {})
        assert queue.run_due() == 1
        [got] = receiver.received
    assert asked == ["hooks.invalid"]
    assert got.headers["host"] == f"hooks.invalid:{receiver.port}"
    standardwebhooks.Webhook(secret).verify(got.body, got.headers)
    after = queue.get(sent.id)
    assert after is not None
    assert after.state == "delivered"


def test_a_redirect_is_reported_and_not_followed(make_queue: QueueFactory) -> None:
    with running_receiver(Answer(302, location="http://169.254.169.254/latest")) as receiver:
        queue = make_queue(settings=one_attempt(), start=False)
        sent = queue.enqueue("hook_1", receiver.url(), "key.revoked", {})
        queue.run_due()
        assert len(receiver.received) == 1
    after = queue.get(sent.id)
    assert after is not None
    assert (
        after.attempts[0].error
        == "HTTP 302: redirect to http://169.254.169.254/latest not followed"
    )


def test_a_redirect_is_logged_without_the_secrets_its_location_carries(
    make_queue: QueueFactory,
) -> None:
    location = "https://login.example.com/next?token=s3cr3t-value&step=2"
    with running_receiver(Answer(307, location=location)) as receiver:
        queue = make_queue(settings=one_attempt(), start=False)
        sent = queue.enqueue("hook_1", receiver.url(), "key.revoked", {})
        queue.run_due()
    after = queue.get(sent.id)
    assert after is not None
    error = after.attempts[0].error or ""
    assert "s3cr3t-value" not in error
    assert (
        error
        == "HTTP 307: redirect to https://login.example.com/next?token=***&step=2 not followed"
    )


def test_a_receiver_that_trickles_its_answer_is_cut_off_at_the_timeout(
    make_queue: QueueFactory,
) -> None:
    with running_receiver(Answer(trickle=3.0)) as receiver:
        queue = make_queue(settings=one_attempt(timeout=0.3), start=False)
        sent = queue.enqueue("hook_1", receiver.url(), "key.revoked", {})
        began = time.monotonic()
        queue.run_due()
        elapsed = time.monotonic() - began
    after = queue.get(sent.id)
    assert after is not None
    assert elapsed < 1.5
    assert after.attempts[0].error == "timed out after 0.3s waiting for the response"


def test_a_rotated_secret_signs_with_both_so_either_verifies(make_queue: QueueFactory) -> None:
    new, old = generate_secret(), generate_secret()
    with running_receiver() as receiver:
        queue = make_queue(secrets=lambda target: [new, old], start=False)
        queue.enqueue("hook_1", receiver.url(), "key.rotated", {"key": "key_1"})
        queue.run_due()
        [got] = receiver.received
    for secret in (new, old):
        standardwebhooks.Webhook(secret).verify(got.body, got.headers)


def test_close_leaves_unsent_deliveries_for_the_next_queue(
    make_queue: QueueFactory, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path / 'restart.db'}"
    with running_receiver(Answer(204, delay=0.3)) as receiver:
        first = make_queue(url=url, settings=fast_settings(batch=5, lease=30))
        sent = [first.enqueue("hook_1", receiver.url(), "key.revoked", {"n": n}) for n in range(4)]
        receiver.wait_for(1)
        first.close()
        with pytest.raises(DeliveryError, match="closed"):
            first.enqueue("hook_1", receiver.url(), "key.revoked", {})
        stored = open_delivery_log(url)
        counts = dict(stored.counts(None))
        stored.close()
        assert counts == {"pending": 3, "retrying": 0, "delivered": 1, "dead": 0}
        # The claims the first queue did not use were released: no lease to wait out.
        second = make_queue(url=url, start=False)
        assert second.run_due() == 3
        assert len(receiver.received) == 4
    assert {second.get(d.id).state for d in sent} == {"delivered"}  # type: ignore[union-attr]


def test_a_delivery_held_by_a_worker_that_died_is_taken_over_when_its_lease_runs_out(
    make_queue: QueueFactory, clock: Clock, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path / 'lease.db'}"
    with running_receiver() as receiver:
        queue = make_queue(url=url, clock=clock, start=False)
        sent = queue.enqueue("hook_1", receiver.url(), "key.revoked", {})
        crashed = open_delivery_log(url)
        lease = queue.settings.lease
        assert (
            len(crashed.claim(clock.now, clock.now + timedelta(seconds=lease), "crashed", 5)) == 1
        )
        crashed.close()
        assert queue.run_due() == 0
        clock.advance(seconds=lease)
        assert queue.run_due() == 1
        assert len(receiver.received) == 1
    after = queue.get(sent.id)
    assert after is not None
    assert after.state == "delivered"


def test_bad_input_is_refused_and_queues_nothing(make_queue: QueueFactory) -> None:
    queue = make_queue(start=False)
    url = "https://hooks.example/in"
    with pytest.raises(TargetRefused, match="scheme must be http or https"):
        queue.enqueue("hook_1", "ftp://hooks.example/", "key.revoked", {})
    with pytest.raises(DeliveryError, match="invalid event type"):
        queue.enqueue("hook_1", url, "key revoked", {})
    with pytest.raises(DeliveryError, match="target is a name"):
        queue.enqueue("", url, "key.revoked", {})
    with pytest.raises(DeliveryError, match="not JSON"):
        queue.enqueue("hook_1", url, "key.revoked", {"when": object()})
    with pytest.raises(DeliveryError, match="not JSON"):
        queue.enqueue("hook_1", url, "key.revoked", {"ratio": float("nan")})
    with pytest.raises(DeliveryError, match="larger than 256 KiB"):
        queue.enqueue("hook_1", url, "key.revoked", {"blob": "x" * 300_000})
    with pytest.raises(DeliveryError, match="invalid delivery id"):
        queue.enqueue("hook_1", url, "key.revoked", {}, id="has space")
    assert dict(queue.counts()) == {"pending": 0, "retrying": 0, "delivered": 0, "dead": 0}


def test_queueing_again_under_the_same_id_returns_the_first_delivery(
    make_queue: QueueFactory,
) -> None:
    queue = make_queue(start=False)
    first = queue.enqueue(
        "hook_1", "https://hooks.example/a", "task.run.succeeded", {"n": 1}, id="run_7-hook_1"
    )
    again = queue.enqueue(
        "hook_1", "https://hooks.example/a", "task.run.succeeded", {"n": 2}, id="run_7-hook_1"
    )
    assert again == first
    assert again.payload == {"n": 1}
    assert queue.counts()["pending"] == 1


def test_the_log_pages_a_target_s_deliveries_newest_first(
    make_queue: QueueFactory, clock: Clock
) -> None:
    queue = make_queue(clock=clock, start=False)
    for number in range(5):
        clock.advance(seconds=1)
        queue.enqueue("hook_a", "https://hooks.example/a", "key.created", {"n": number})
        queue.enqueue("hook_b", "https://hooks.example/b", "key.created", {"n": number})
    first = queue.list("hook_a", limit=2)
    second = queue.list("hook_a", limit=2, cursor=first.next_cursor)
    third = queue.list("hook_a", limit=2, cursor=second.next_cursor)
    assert [d.payload["n"] for page in (first, second, third) for d in page] == [4, 3, 2, 1, 0]
    assert third.next_cursor is None
    assert len(queue.list(limit=500)) == 10
    assert queue.list("hook_a", state="dead").items == ()
    with pytest.raises(MonitorError, match="invalid cursor"):
        queue.list("hook_a", cursor="not-a-cursor")
    with pytest.raises(MonitorError, match="limit"):
        queue.list("hook_a", limit=0)
    with pytest.raises(DeliveryError, match="unknown state"):
        queue.list("hook_a", state="lost")  # type: ignore[arg-type]


def test_replaying_an_unknown_delivery_says_so(make_queue: QueueFactory) -> None:
    with pytest.raises(DeliveryNotFound):
        make_queue(start=False).replay("msg_nothing")


def test_a_url_with_an_ipv6_zone_is_one_refused_attempt_and_the_queue_goes_on(
    make_queue: QueueFactory,
) -> None:
    with running_receiver(Answer(204)) as receiver:
        queue = make_queue(start=False, settings=fast_settings(schedule=(30.0, 30.0, 30.0)))
        zoned = queue.enqueue("hook_1", "http://[fe80::1%25lo]:9/", "key.revoked", {})
        fine = queue.enqueue("hook_2", receiver.url(), "key.revoked", {})
        assert queue.run_due() == 2
        assert len(receiver.wait_for(1)) == 1
    refused = queue.get(zoned.id)
    assert refused is not None
    assert refused.state == "retrying"
    assert refused.attempts[0].error is not None
    assert "zone" in refused.attempts[0].error
    delivered = queue.get(fine.id)
    assert delivered is not None
    assert delivered.state == "delivered"


def test_a_resolver_that_breaks_is_one_failed_attempt_and_the_queue_goes_on(
    make_queue: QueueFactory,
) -> None:
    def broken(host: str, port: int) -> list[str]:
        raise KeyError(host)

    queue = make_queue(
        start=False, resolver=broken, settings=fast_settings(schedule=(30.0, 30.0, 30.0))
    )
    first = queue.enqueue("hook_1", "https://one.example/", "key.revoked", {})
    second = queue.enqueue("hook_2", "https://two.example/", "key.revoked", {})
    assert queue.run_due() == 2
    for sent in (first, second):
        after = queue.get(sent.id)
        assert after is not None
        assert after.state == "retrying"
        assert after.attempts[0].error == "the URL could not be checked: KeyError"


def test_a_secret_in_a_hook_url_stays_out_of_the_log(
    make_queue: QueueFactory, caplog: pytest.LogCaptureFixture
) -> None:
    with running_receiver(Answer(500), Answer(204)) as receiver:
        queue = make_queue(start=False, settings=fast_settings(schedule=(30.0, 30.0, 30.0)))
        url = receiver.url("/in?token=hunter2&team=7")
        with caplog.at_level("INFO", logger="policyengine"):
            failed = queue.enqueue("hook_1", url, "key.revoked", {})
            assert queue.run_due() == 1
            delivered = queue.enqueue("hook_2", url, "key.revoked", {})
            assert queue.run_due() == 1
    assert [d.state for d in (queue.get(failed.id), queue.get(delivered.id)) if d] == [
        "retrying",
        "delivered",
    ]
    assert "token=***" in caplog.text
    assert "team=7" in caplog.text
    assert "hunter2" not in caplog.text


SLACK_PATH = "/services/T024BE7LD/B01ABCDEF/Xk93mTqL0pZr7VbN2cYw5HdA"


def test_a_token_in_a_hook_url_s_path_stays_out_of_the_log_lines(
    make_queue: QueueFactory, caplog: pytest.LogCaptureFixture
) -> None:
    with running_receiver(Answer(500), Answer(204)) as receiver:
        queue = make_queue(start=False, settings=fast_settings(schedule=(30.0, 30.0, 30.0)))
        url = receiver.url(SLACK_PATH)
        with caplog.at_level("INFO", logger="policyengine"):
            failed = queue.enqueue("hook_1", url, "key.revoked", {})
            assert queue.run_due() == 1
            delivered = queue.enqueue("hook_2", url, "key.revoked", {})
            assert queue.run_due() == 1
        assert [r.path for r in receiver.received] == [SLACK_PATH, SLACK_PATH]
    assert [d.state for d in (queue.get(failed.id), queue.get(delivered.id)) if d] == [
        "retrying",
        "delivered",
    ]
    shown = receiver.url("/services/T024BE7LD/B01ABCDEF/***")
    lines = [record.getMessage() for record in caplog.records]
    assert [line for line in lines if shown in line] == [
        f"webhook {failed.id} (key.revoked) to {shown} for hook_1 failed, retry at "
        f"{queue.get(failed.id).next_attempt_at}: HTTP 500",  # type: ignore[union-attr]
        f"webhook {delivered.id} (key.revoked) delivered to {shown} for hook_2",
    ]
    assert "Xk93mTqL0pZr7VbN2cYw5HdA" not in caplog.text


@pytest.mark.parametrize(
    ("location", "shown"),
    [
        # The receiver moved to https, and says so with the hook's own path.
        (f"https://hooks.slack.com{SLACK_PATH}", "https://hooks.slack.com/services/***/***/***"),
        # A relative Location reads against the hook's URL.
        ("/v2/in/Xk93mTqL0pZr7VbN2cYw5HdA?step=2", "{origin}/v2/in/***?step=2"),
    ],
)
def test_a_redirect_to_the_hook_s_own_path_is_logged_without_its_token(
    make_queue: QueueFactory, caplog: pytest.LogCaptureFixture, location: str, shown: str
) -> None:
    with running_receiver(Answer(301, location=location)) as receiver:
        queue = make_queue(settings=one_attempt(), start=False)
        with caplog.at_level("INFO", logger="policyengine"):
            sent = queue.enqueue("hook_1", receiver.url(SLACK_PATH), "key.revoked", {})
            queue.run_due()
    after = queue.get(sent.id)
    assert after is not None
    origin = receiver.url("")
    assert after.attempts[0].error == (
        f"HTTP 301: redirect to {shown.format(origin=origin)} not followed"
    )
    assert "Xk93mTqL0pZr7VbN2cYw5HdA" not in caplog.text
    assert f"redirect to {shown.format(origin=origin)} not followed" in caplog.text
