"""Several delivering processes on one database: each delivery goes out exactly once."""

from __future__ import annotations

import time
from collections import Counter

from .conftest import QueueFactory, fast_settings
from .support import Answer, running_receiver


def test_two_queues_on_one_database_send_each_delivery_exactly_once(
    sql_url: str, make_queue: QueueFactory
) -> None:
    count = 40
    with running_receiver(Answer(204, delay=0.01)) as receiver:
        # Two queues with their own connections, as two processes would have; two workers
        # each, claiming one at a time, so that claims race as often as they can.
        queues = [
            make_queue(url=sql_url, settings=fast_settings(workers=2, batch=1, poll_interval=0.02))
            for _ in range(2)
        ]
        sent = [
            queues[number % 2].enqueue("hook_1", receiver.url(), "event.created", {"n": number})
            for number in range(count)
        ]
        receiver.wait_for(count, timeout=30)
        deadline = time.monotonic() + 10
        while queues[0].counts()["delivered"] < count and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.2)  # a duplicate still in flight would arrive now
        ids = Counter(request.headers["webhook-id"] for request in receiver.received)
    assert ids == Counter({delivery.id: 1 for delivery in sent})
    assert dict(queues[1].counts()) == {"pending": 0, "retrying": 0, "delivered": count, "dead": 0}
    for delivery in queues[1].list(limit=count):
        assert [attempt.number for attempt in delivery.attempts] == [1]
