"""One stream, off the hot path: a bounded in-memory queue and the thread that drains it.

A check appends one tuple and returns (:func:`policyengine.monitor.capture.recorder`
makes what it calls); it never waits, never takes a lock, and when the queue is full its
record is dropped and counted instead. Lifecycle events, policy loads
and administrative actions go into the same queue but are never dropped: they are few,
and the audit log must hold every one. The writer thread takes what is queued in batches
and hands each to ``process``; between batches it runs ``tick`` now and then.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable

log = logging.getLogger("policyengine.monitor")

DEFAULT_CAPACITY = 50_000
DEFAULT_BATCH = 1_000
DEFAULT_INTERVAL = 0.2


class _Marker:
    """Put into the queue by :meth:`Stream.flush`; set once everything before it is done."""

    __slots__ = ("done",)

    def __init__(self) -> None:
        self.done = threading.Event()


class Stream:
    def __init__(
        self,
        process: Callable[[list[object]], None],
        tick: Callable[[], None],
        *,
        capacity: int | None = None,
        batch: int | None = None,
        interval: float | None = None,
        tick_every: float = 5.0,
    ) -> None:
        self.queue: deque[object] = deque()
        #: Decisions waiting beyond this many are dropped (events never are).
        self.capacity = capacity or DEFAULT_CAPACITY
        self._batch = batch or DEFAULT_BATCH
        # Read here rather than bound as defaults, so that a benchmark or a test can set them.
        self._interval = interval or DEFAULT_INTERVAL
        self._tick_every = tick_every
        self._process = process
        self._tick = tick
        self._dropped = 0
        self._drop_lock = threading.Lock()
        self._wake = threading.Event()
        self._stopping = False
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="policyengine-monitor", daemon=True)
        self._thread.start()

    def drop(self) -> None:
        """Count a decision that found the queue full."""
        with self._drop_lock:
            self._dropped += 1

    def offer(self, item: object) -> bool:
        """Queue a decision's record unless the queue is full (then it is counted)."""
        if len(self.queue) < self.capacity:
            self.queue.append(item)
            return True
        self.drop()
        return False

    def put(self, item: object) -> None:
        """Queue an event; unlike a decision record it is never dropped."""
        self.queue.append(item)

    @property
    def depth(self) -> int:
        """Items waiting for the writer."""
        return len(self.queue)

    @property
    def dropped(self) -> int:
        """Decision records dropped because the queue was full, since the stream started."""
        return self._dropped

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until everything queued before this call has been handed to ``process``;
        ``False`` if ``timeout`` seconds passed first, or the stream is closed."""
        if self._closed or threading.current_thread() is self._thread:
            return not self.queue
        marker = _Marker()
        self.queue.append(marker)
        self._wake.set()
        return marker.done.wait(timeout)

    def close(self, timeout: float | None = 30.0) -> bool:
        """Drain the queue and stop the writer; ``False`` if it did not finish in time."""
        if self._closed:
            return True
        self._stopping = True
        self._wake.set()
        self._thread.join(timeout)
        self._closed = True
        if self._thread.is_alive():
            log.warning("the monitor's writer did not finish within %s seconds", timeout)
            return False
        return True

    def _run(self) -> None:
        next_tick = time.monotonic()
        while True:
            self._wake.wait(self._interval)
            self._wake.clear()
            stopping = self._stopping
            self._drain(everything=stopping)
            if time.monotonic() >= next_tick or stopping:
                next_tick = time.monotonic() + self._tick_every
                self._call(self._tick)
            if stopping:
                self._drain(everything=True)
                return

    def _drain(self, everything: bool = False) -> None:
        """Hand over what was queued when the writer woke, in batches of at most the batch
        size; of what arrives meanwhile, only whole batches, unless ``everything``. The rest
        waits for the next wake: a writer that took each trickle as it came would, under
        load, never sleep, and write many small batches, each paying a transaction, rather
        than a few large ones."""
        queue, size = self.queue, self._batch
        due = len(queue)
        while queue and (due > 0 or everything or len(queue) >= size):
            batch: list[object] = []
            marker = None
            while queue and len(batch) < size:
                item = queue.popleft()
                due -= 1
                if type(item) is _Marker:
                    marker = item
                    break
                batch.append(item)
            if batch:
                self._call(self._process, batch)
            if marker is not None:
                marker.done.set()

    @staticmethod
    def _call(function: Callable[..., None], *args: object) -> None:
        try:
            function(*args)
        except Exception:
            # The writer must outlive a bug in one batch; the batch is lost and said so.
            log.exception("the monitor's writer failed")
