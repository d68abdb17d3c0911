"""Webhook delivery: a durable queue, background workers, retries, a log, and replay.

Monitoring's alerts and tDoc's API hooks both send through a :class:`DeliveryQueue`::

    queue = DeliveryQueue.open("sqlite:///policyengine.db", secrets=hook_secrets)
    delivery = queue.enqueue("hook_42", "https://example.com/hooks", "task.run.succeeded",
                             {"task": "tsk_1", "run": "run_9"})
    queue.list("hook_42")           # the hook's delivery log, newest first, paged by cursor
    queue.get(delivery.id)          # one delivery and every attempt
    queue.replay(delivery.id)       # send a dead (or any) delivery again
    queue.close()                   # workers stop; what is not delivered waits for next start

``secrets`` maps a target to its current signing secret(s) at each attempt: rotating a
hook's secret applies to deliveries already queued, and no secret is kept in the log.
Delivery is at least once: a receiver drops repeats by the ``webhook-id`` header.
"""

from __future__ import annotations

import json
import logging
import re
import secrets as random_source
import threading
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from types import TracebackType

from policyengine.errors import StorageError
from policyengine.keys.codec import from_micros
from policyengine.monitor import transport
from policyengine.monitor.delivery_attempt import Post, SecretLookup, Sender
from policyengine.monitor.delivery_log import (
    DELIVERY_STATES,
    Delivery,
    DeliveryError,
    DeliveryLog,
    DeliveryPage,
    DeliveryQuery,
    DeliveryState,
    open_delivery_log,
)
from policyengine.monitor.delivery_settings import DeliverySettings, full_jitter
from policyengine.monitor.pages import check_cursor, check_limit, page_of, position
from policyengine.monitor.targets import Resolver, parse_target_url, system_resolver

#: The largest body a delivery may have, as JSON.
MAX_BODY_BYTES = 256 * 1024
_EVENT_TYPE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.:-]{0,99}")
_ID = re.compile(r"[A-Za-z0-9_-]{1,100}")

logger = logging.getLogger("policyengine.monitor.delivery")


def _now() -> datetime:
    return datetime.now(UTC)


class DeliveryQueue:
    """Queues webhook deliveries in a :class:`DeliveryLog` and delivers them from
    ``settings.workers`` background threads (none with ``start=False``: call
    :meth:`run_due` to deliver in the calling thread). The queue owns ``log`` and closes
    it in :meth:`close`."""

    def __init__(
        self,
        log: DeliveryLog,
        secrets: SecretLookup,
        settings: DeliverySettings | None = None,
        *,
        clock: Callable[[], datetime] = _now,
        resolver: Resolver = system_resolver,
        jitter: Callable[[float], float] = full_jitter,
        post: Post = transport.post,
        start: bool = True,
    ) -> None:
        self.settings = settings if settings is not None else DeliverySettings()
        self._log = log
        self._clock = clock
        self._sender = Sender(secrets, self.settings, clock, resolver, jitter, post)
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._closed = False
        if start:
            self.start()

    @classmethod
    def open(
        cls,
        url: str,
        secrets: SecretLookup,
        settings: DeliverySettings | None = None,
        *,
        clock: Callable[[], datetime] = _now,
        resolver: Resolver = system_resolver,
        jitter: Callable[[float], float] = full_jitter,
        start: bool = True,
    ) -> DeliveryQueue:
        """A queue over the log at ``url`` (``memory://``, ``sqlite:///…``,
        ``postgresql://…``); the key store's URL keeps deliveries beside the keys."""
        return cls(
            open_delivery_log(url),
            secrets,
            settings,
            clock=clock,
            resolver=resolver,
            jitter=jitter,
            start=start,
        )

    def enqueue(
        self,
        target: str,
        url: str,
        event_type: str,
        payload: object,
        *,
        id: str | None = None,
    ) -> Delivery:
        """Queue ``payload`` (any JSON value) for ``url`` on behalf of ``target`` (a hook id,
        a subscriber name), as ``{"type": event_type, "timestamp": …, "data": payload}``.

        The URL's form is checked here (:class:`TargetRefused`); where it resolves to is
        checked at each attempt. Given an ``id`` that is already queued, the delivery
        queued under it is returned and nothing new is sent.
        """
        self._check_open()
        if not isinstance(target, str) or not 0 < len(target) <= 200:
            raise DeliveryError("a delivery's target is a name of 1 to 200 characters")
        parse_target_url(url)
        if not isinstance(event_type, str) or not _EVENT_TYPE.fullmatch(event_type):
            raise DeliveryError(
                f"invalid event type {event_type!r}: letters, digits and _ . : - (such as "
                "alert.raised), at most 100"
            )
        if id is not None and (not isinstance(id, str) or not _ID.fullmatch(id)):
            raise DeliveryError(f"invalid delivery id {id!r}: 1 to 100 of A-Z a-z 0-9 _ -")
        now = self._clock()
        delivery = Delivery(
            id=id if id is not None else "msg_" + random_source.token_urlsafe(18),
            target=target,
            url=url,
            event_type=event_type,
            body=_envelope(event_type, now, payload),
            state="pending",
            created_at=now,
            next_attempt_at=now,
            delivered_at=None,
            tries=0,
        )
        if not self._log.add(delivery):
            existing = self._log.get(delivery.id)
            if existing is None:
                raise StorageError(f"delivery {delivery.id!r} was removed while it was queued")
            return existing
        self._wake.set()
        return delivery

    def get(self, delivery_id: str) -> Delivery | None:
        """One delivery with all its attempts, or ``None``."""
        return self._log.get(delivery_id)

    def list(
        self,
        target: str | None = None,
        *,
        state: DeliveryState | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> DeliveryPage:
        """Deliveries newest first (a target's, or all), with their attempts."""
        check_limit(limit)
        if state is not None and state not in DELIVERY_STATES:
            raise DeliveryError(f"unknown state {state!r}: use {', '.join(DELIVERY_STATES)}")
        start = check_cursor(cursor)
        try:
            after = None if start is None else (from_micros(start[0]), start[1])
        except OverflowError:
            raise DeliveryError("invalid cursor: pass the next_cursor of a previous page") from None
        found = self._log.list(DeliveryQuery(limit + 1, target, state, after))
        last = found[limit - 1] if len(found) > limit else None
        return page_of(found, limit, None if last is None else position(last.created_at, last.id))

    def counts(self, target: str | None = None) -> Mapping[DeliveryState, int]:
        """How many deliveries are in each state (a target's, or all)."""
        return self._log.counts(target)

    def replay(self, delivery_id: str) -> Delivery:
        """Send a delivery again, now, with a fresh retry schedule and the same
        ``webhook-id``; its earlier attempts stay in the log."""
        self._check_open()
        delivery = self._log.requeue(delivery_id, self._clock())
        self._wake.set()
        return delivery

    def prune(self, before: datetime) -> int:
        """Remove delivered and dead deliveries created before ``before`` (a retention
        period's start) with their attempts; return how many went."""
        return self._log.prune(before)

    def run_due(self, limit: int = 1000) -> int:
        """Attempt the deliveries that are due now, in this thread, up to ``limit``;
        return how many attempts were made."""
        self._check_open()
        made = 0
        while made < limit:
            attempted = self._deliver_batch(min(self.settings.batch, limit - made))
            if not attempted:
                break
            made += attempted
        return made

    def start(self) -> None:
        """Start the background workers (once)."""
        with self._lock:
            self._check_open()
            if self._threads:
                return
            for number in range(self.settings.workers):
                thread = threading.Thread(
                    target=self._work, name=f"policyengine-delivery-{number}", daemon=True
                )
                self._threads.append(thread)
                thread.start()

    def close(self) -> None:
        """Stop the workers after their attempt in progress; deliveries not yet made stay
        queued, and are delivered by the next queue over the same log."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._stopping.set()
        self._wake.set()
        for thread in self._threads:
            thread.join()
        self._log.close()

    def __enter__(self) -> DeliveryQueue:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()

    def _check_open(self) -> None:
        if self._closed:
            raise DeliveryError("the delivery queue is closed")

    def _deliver_batch(self, limit: int) -> int:
        now = self._clock()
        lease_until = now + timedelta(seconds=self.settings.lease)
        claims = self._log.claim(now, lease_until, uuid.uuid4().hex, limit)
        done = 0
        try:
            for claim in claims:
                if self._stopping.is_set():
                    break
                attempt, outcome = self._sender.attempt(claim.delivery)
                self._log.finish(claim, attempt, outcome)
                done += 1
        finally:
            if done < len(claims):
                self._log.release(claims[done:])
        return done

    def _work(self) -> None:
        poll = self.settings.poll_interval
        while not self._stopping.is_set():
            # Cleared before looking, so that a wake-up during the look is not lost.
            self._wake.clear()
            try:
                # An idle worker only reads: a claim is a write, which SQLite serialises.
                due = self._log.next_due()
                if due is not None and due <= self._clock():
                    if self._deliver_batch(self.settings.batch):
                        continue
                    due = None  # another worker took it: look again after a poll
            except StorageError as error:
                logger.warning("webhook delivery paused: %s", error)
                self._stopping.wait(poll)
                continue
            except Exception:  # a worker that dies would leave deliveries waiting unseen
                logger.exception("webhook delivery worker failed; it goes on")
                self._stopping.wait(poll)
                continue
            wait = poll
            if due is not None:
                wait = min(poll, max((due - self._clock()).total_seconds(), 0.005))
            self._wake.wait(wait)


def _envelope(event_type: str, now: datetime, payload: object) -> str:
    stamp = now.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
    try:
        body = json.dumps(
            {"type": event_type, "timestamp": stamp, "data": payload},
            separators=(",", ":"),
            ensure_ascii=False,
            allow_nan=False,
        )
    except (TypeError, ValueError) as error:
        raise DeliveryError(f"the payload is not JSON: {error}") from None
    if len(body.encode("utf-8")) > MAX_BODY_BYTES:
        raise DeliveryError(f"the payload is larger than {MAX_BODY_BYTES // 1024} KiB as JSON")
    return body
