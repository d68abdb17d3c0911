"""Work done off the request path: filling the lookup cache when it starts, writing
``last_used_at``, and announcing keys' passive ends (expiry, the end of a rotation grace
period), which no call marks as it happens."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import Final

from policyengine.errors import StorageError
from policyengine.keys.events import EventEmitter, EventKind, KeyEvent, ended_event, log
from policyengine.keys.lookup import KeyLookups
from policyengine.keys.store import KeyQuery, KeyState, KeyStore

_BATCH = 500
_ENDS: Final[tuple[tuple[KeyState, EventKind], ...]] = (
    ("expired", "expired"),
    ("revoked", "revoked"),
)


class Maintenance:
    def __init__(
        self,
        store: KeyStore,
        lookups: KeyLookups,
        emit: EventEmitter,
        now: Callable[[], datetime],
    ) -> None:
        self._store = store
        self._lookups = lookups
        self._emit = emit
        self._now = now
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None

    def sweep(self, now: datetime) -> list[KeyEvent]:
        """Emit ``expired`` for each key that has expired and ``revoked`` for each rotated
        key whose grace period has ended, once across all processes sharing the store."""
        emitted = []
        for state, kind in _ENDS:
            after: tuple[datetime, str] | None = None
            while True:
                query = KeyQuery(now, _BATCH, state=state, after=after, end_unannounced=True)
                batch = self._store.list(query)
                for record in batch:
                    marked = replace(record, end_announced=True, revision=record.revision + 1)
                    # Only the process whose write lands emits the event.
                    if self._store.update(marked):
                        emitted.append(ended_event(kind, record, now))
                        self._emit(emitted[-1])
                if len(batch) < _BATCH:
                    break
                after = (batch[-1].created_at, batch[-1].id)
        return emitted

    def _warm(self) -> None:
        """Over a watched store, read the newest keys into the lookup cache (as many as it
        holds), so that the first request of each key does not wait for the store."""
        watch = self._lookups.watch
        if watch is None:
            return
        try:
            added = watch.warm(self._stopped)
        except StorageError as error:
            log.warning("could not fill the key cache ahead of lookups: %s", error)
            return
        except Exception:
            log.exception("filling the key cache ahead of lookups failed unexpectedly")
            return
        log.info("read %d keys into the lookup cache", added)

    def start(self, interval: float) -> None:
        """Fill the lookup cache, then flush and sweep every ``interval`` seconds on a
        daemon thread, until :meth:`stop`."""
        self._thread = threading.Thread(
            target=self._run, args=(interval,), name="policyengine-key-maintenance", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread and write what is still pending."""
        self._stopped.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        try:
            self._lookups.flush(self._now())
        except StorageError as error:
            log.warning("could not write the keys' last use before closing: %s", error)

    def _run(self, interval: float) -> None:
        self._warm()
        while not self._stopped.wait(interval):
            try:
                now = self._now()
                self._lookups.flush(now)
                self.sweep(now)
            except StorageError as error:
                log.warning("key maintenance failed; it will be retried: %s", error)
            except Exception:
                # A bug here must not kill the thread that keeps last_used_at up to date.
                log.exception("key maintenance failed unexpectedly; it will be retried")
