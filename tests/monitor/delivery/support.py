"""A webhook receiver on loopback that the tests script (what it answers, how slowly), and
a bounded wait for a delivery to reach a state."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from policyengine.monitor.delivery import DeliveryQueue
from policyengine.monitor.delivery_log import Delivery, DeliveryState


@dataclass(frozen=True)
class Received:
    at: float
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass(frozen=True)
class Answer:
    status: int = 204
    #: Seconds to wait before answering (longer than the sender's timeout: a timeout).
    delay: float = 0.0
    location: str | None = None
    #: Send the status line, then a header one byte every 50 ms for this many seconds.
    trickle: float = 0.0


class Receiver:
    """Answers each POST with the next scripted :class:`Answer` (the last one repeats)."""

    def __init__(self, server: ThreadingHTTPServer, answers: list[Answer]) -> None:
        self.server = server
        self.answers = answers
        self.received: list[Received] = []
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    def url(self, path: str = "/hooks", host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"

    def answer_with(self, *answers: Answer) -> None:
        with self._lock:
            self.answers[:] = list(answers)

    def take(self, request: Received) -> Answer:
        with self._lock:
            self.received.append(request)
            answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
            self._arrived.notify_all()
            return answer

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Received]:
        """Block until ``count`` requests have arrived (or fail after ``timeout``)."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while len(self.received) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        f"expected {count} deliveries, got {len(self.received)} in {timeout}s"
                    )
                self._arrived.wait(left)
            return list(self.received)


def _handler(receiver: Callable[[], Receiver]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("content-length", "0"))
            body = self.rfile.read(length)
            answer = receiver().take(
                Received(
                    time.monotonic(),
                    self.path,
                    {k.lower(): v for k, v in self.headers.items()},
                    body,
                )
            )
            if answer.delay:
                time.sleep(answer.delay)
            if answer.trickle:
                self.wfile.write(b"HTTP/1.1 200 OK\r\nX-Slow: ")
                end = time.monotonic() + answer.trickle
                while time.monotonic() < end:
                    try:
                        self.wfile.write(b"a")
                        self.wfile.flush()
                    except OSError:
                        return
                    time.sleep(0.05)
                return
            self.send_response(answer.status)
            if answer.location:
                self.send_header("Location", answer.location)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


@contextmanager
def running_receiver(
    *answers: Answer, wrap: Callable[[ThreadingHTTPServer], None] | None = None
) -> Iterator[Receiver]:
    """A receiver on 127.0.0.1 at a free port, stopped when the block ends."""
    holder: list[Receiver] = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(lambda: holder[0]))
    server.daemon_threads = True
    if wrap is not None:
        wrap(server)
    receiver = Receiver(server, list(answers) or [Answer()])
    holder.append(receiver)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def wait_for_state(
    queue: DeliveryQueue, delivery_id: str, state: DeliveryState, timeout: float = 10.0
) -> Delivery:
    """The delivery once it is in ``state``; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        delivery = queue.get(delivery_id)
        if delivery is not None and delivery.state == state:
            return delivery
        if time.monotonic() > deadline:
            seen = None if delivery is None else (delivery.state, delivery.attempts)
            raise AssertionError(f"{delivery_id} did not become {state} in {timeout}s: {seen}")
        time.sleep(0.02)
