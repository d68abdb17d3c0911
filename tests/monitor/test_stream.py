"""The queue between checks and the writer: it never blocks, counts what it drops, and
hands everything else over in order."""

from __future__ import annotations

import threading
import time
from typing import Any

from policyengine.monitor.stream import Stream


class Sink:
    """A ``process`` that can be held shut, to fill the queue."""

    def __init__(self) -> None:
        self.batches: list[list[object]] = []
        self.open = threading.Event()
        self.open.set()
        self.ticks = 0

    def process(self, batch: list[object]) -> None:
        self.open.wait(10)
        self.batches.append(batch)

    def tick(self) -> None:
        self.ticks += 1

    @property
    def items(self) -> list[Any]:
        return [item for batch in self.batches for item in batch]


def record(stream: Stream, number: int) -> None:
    stream.offer(("decision", str(number)))


def test_records_reach_the_writer_in_order_in_batches() -> None:
    sink = Sink()
    stream = Stream(sink.process, sink.tick, batch=100)
    for number in range(250):
        record(stream, number)
    assert stream.flush(10)
    assert [item[1] for item in sink.items] == [str(n) for n in range(250)]
    assert all(len(batch) <= 100 for batch in sink.batches)
    stream.close()


def test_a_full_queue_drops_and_counts_instead_of_blocking() -> None:
    sink = Sink()
    sink.open.clear()
    stream = Stream(sink.process, sink.tick, capacity=10, batch=1)
    record(stream, 0)
    deadline = time.monotonic() + 5
    while stream.depth and time.monotonic() < deadline:  # the writer holds the first one
        time.sleep(0.01)
    started = time.perf_counter()
    for number in range(1, 26):
        record(stream, number)
    assert time.perf_counter() - started < 1.0
    assert stream.depth == 10
    assert stream.dropped == 15
    sink.open.set()
    assert stream.flush(10)
    assert [item[1] for item in sink.items] == [str(n) for n in range(11)]
    stream.close()


def test_events_are_never_dropped_even_when_the_queue_is_full() -> None:
    sink = Sink()
    sink.open.clear()
    stream = Stream(sink.process, sink.tick, capacity=2)
    for number in range(5):
        record(stream, number)
    for number in range(5):
        stream.put(("event", number))
    sink.open.set()
    assert stream.flush(10)
    assert [item for item in sink.items if item[0] == "event"] == [("event", n) for n in range(5)]
    stream.close()


def test_flush_waits_for_what_was_queued_before_it() -> None:
    sink = Sink()
    stream = Stream(sink.process, sink.tick, interval=60)  # the writer would sleep a minute
    for number in range(3):
        record(stream, number)
    assert stream.flush(10)
    assert len(sink.items) == 3
    stream.close()


def test_flush_gives_up_after_its_timeout_when_the_writer_is_stuck() -> None:
    sink = Sink()
    sink.open.clear()
    stream = Stream(sink.process, sink.tick)
    record(stream, 0)
    assert stream.flush(0.2) is False
    sink.open.set()
    assert stream.flush(10)
    stream.close()


def test_close_drains_the_queue_and_then_ticks_once_more() -> None:
    sink = Sink()
    stream = Stream(sink.process, sink.tick, interval=60, tick_every=3600)
    ticks = sink.ticks
    for number in range(5):
        record(stream, number)
    assert stream.close()
    assert len(sink.items) == 5
    assert sink.ticks > ticks
    assert stream.close()  # twice is harmless


def test_a_failing_batch_does_not_stop_the_writer() -> None:
    seen: list[object] = []

    def process(batch: list[object]) -> None:
        if any(item == "bad" for item in batch):
            raise RuntimeError("a bug")
        seen.extend(batch)

    stream = Stream(process, lambda: None, batch=1)
    stream.put("bad")
    stream.put("good")
    assert stream.flush(10)
    assert seen == ["good"]
    stream.close()


def test_what_arrives_while_a_batch_is_written_waits_for_the_next_wake_unless_it_fills_a_batch() -> (
    None
):
    sink = Sink()
    sink.open.clear()
    stream = Stream(sink.process, sink.tick, batch=100, interval=60)
    record(stream, 0)
    waking = threading.Thread(target=stream.flush, args=(10,))
    waking.start()
    deadline = time.monotonic() + 5
    while stream.depth and time.monotonic() < deadline:  # the writer holds the first one
        time.sleep(0.01)
    for number in range(1, 151):
        record(stream, number)
    sink.open.set()
    waking.join(10)
    deadline = time.monotonic() + 5
    while len(sink.items) < 101 and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.3)
    # One whole batch was taken at once; the rest waits rather than going as a trickle.
    assert [len(batch) for batch in sink.batches] == [1, 100]
    assert stream.depth == 50
    assert stream.flush(10)
    assert [item[1] for item in sink.items] == [str(n) for n in range(151)]
    stream.close()
