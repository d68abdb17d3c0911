"""Telling the other processes that a key changed, over Redis pub/sub.

Each process caches key lookups for ``cache_ttl`` seconds; without this, a revocation
made elsewhere takes up to that long to be seen. With it, every change is published on a
channel, and a background thread in each process drops the changed key from its cache
as soon as the message arrives. Pub/sub delivers at most once: while the connection is
down messages are lost, so the thread clears the whole cache when it reconnects, and the
TTL remains the bound for anything in between.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from typing import Protocol

from policyengine.errors import ConfigError, StorageError
from policyengine.redaction import RedactedUrl

log = logging.getLogger("policyengine.keys")

DEFAULT_CHANNEL = "policyengine:keys:changed"
_SOCKET_TIMEOUT_SECONDS = 5.0
_POLL_SECONDS = 0.25
_RETRY_SECONDS = 1.0


class Invalidator(Protocol):
    def start(self, on_change: Callable[[str], None], on_reset: Callable[[], None]) -> None:
        """Call ``on_change(key_id)`` for each change published anywhere, and ``on_reset()``
        when changes may have been missed."""

    def publish(self, key_id: str) -> None: ...

    def close(self) -> None: ...


class RedisInvalidator:
    """Publishes key changes; with ``listen``, also receives them, on a daemon thread."""

    def __init__(self, url: str, *, channel: str = DEFAULT_CHANNEL, listen: bool = True) -> None:
        try:
            import redis
        except ImportError:  # pragma: no cover - depends on how the package was installed
            raise ConfigError(
                "invalidation over Redis needs redis: pip install 'policyengine[redis]'"
            ) from None
        self._errors: tuple[type[Exception], ...] = (redis.RedisError, OSError)
        self._where = RedactedUrl(url)
        self._channel = channel
        self._listen = listen
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        try:
            self._client = redis.Redis.from_url(
                url,
                socket_timeout=_SOCKET_TIMEOUT_SECONDS,
                socket_connect_timeout=_SOCKET_TIMEOUT_SECONDS,
                decode_responses=True,
            )
        except ValueError as error:
            raise ConfigError(
                f"invalid Redis URL {self._where}: {self._where.scrub(error)}"
            ) from None
        self._pubsub = self._client.pubsub()  # type: ignore[no-untyped-call, unused-ignore]  # typed from redis 8.2
        try:
            if listen:
                self._subscribe()
            else:
                self._client.ping()
        except self._errors as error:
            self._close_connections()
            raise StorageError(
                f"cannot reach Redis at {self._where}: {self._where.scrub(error)}"
            ) from None

    def start(self, on_change: Callable[[str], None], on_reset: Callable[[], None]) -> None:
        if not self._listen or self._thread is not None:
            return
        self._thread = threading.Thread(
            target=self._run,
            args=(on_change, on_reset),
            name="policyengine-key-invalidation",
            daemon=True,
        )
        self._thread.start()

    def publish(self, key_id: str) -> None:
        # The change is already stored; failing here would tell the caller it was not.
        # Other processes still see it when their cache entry expires.
        try:
            self._client.publish(self._channel, key_id)
        except self._errors as error:
            log.warning(
                "could not publish a key change to Redis at %s (other processes will see it "
                "within their cache TTL): %s",
                self._where,
                self._where.scrub(error),
            )

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        self._close_connections()

    def _subscribe(self) -> None:
        # Wait for the server's confirmation, so that nothing published after the
        # constructor returns can be missed.
        self._pubsub.subscribe(self._channel)
        deadline = time.monotonic() + _SOCKET_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            message = self._pubsub.get_message(timeout=_POLL_SECONDS)
            if message is not None and message.get("type") == "subscribe":
                return
        raise StorageError(f"Redis at {self._where} did not confirm the subscription")

    def _run(self, on_change: Callable[[str], None], on_reset: Callable[[], None]) -> None:
        connected = True
        while not self._stop.is_set():
            try:
                message = self._pubsub.get_message(
                    ignore_subscribe_messages=True, timeout=_POLL_SECONDS
                )
            except self._errors as error:
                if connected:
                    log.warning(
                        "lost the Redis key-change channel at %s: %s",
                        self._where,
                        self._where.scrub(error),
                    )
                connected = False
                on_reset()
                self._stop.wait(_RETRY_SECONDS)
                continue
            if not connected:
                # Reconnected: whatever was published meanwhile is lost, so forget everything.
                log.info("reconnected to the Redis key-change channel at %s", self._where)
                connected = True
                on_reset()
            if message is not None and message.get("type") == "message":
                on_change(str(message["data"]))

    def _close_connections(self) -> None:
        for closable in (self._pubsub, self._client):
            with contextlib.suppress(*self._errors):  # a broken connection is closed anyway
                closable.close()
