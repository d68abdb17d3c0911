"""How a change to a key is committed, whatever the change.

Read the record, compute the change, write it only over the revision it was computed
from (compare-and-set), and start again if another writer got there first. A change that
lands is dropped from this process's lookup cache at once, published to the other
processes, and emitted as an event.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import datetime

from policyengine.errors import KeyConflict, KeyNotFound, KeyRequestError
from policyengine.keys.cache import LookupCache
from policyengine.keys.events import EventEmitter, EventKind, KeyEvent
from policyengine.keys.format import KeyFormat
from policyengine.keys.invalidation import Invalidator
from policyengine.keys.store import KeyStore
from policyengine.record import KEY_ID, KeyRecord

#: How often a change that collides with another writer's is tried before giving up.
ATTEMPTS = 5

Change = Callable[[KeyRecord, datetime], KeyRecord | None]


class ChangeWriter:
    def __init__(
        self,
        store: KeyStore,
        cache: LookupCache,
        invalidator: Invalidator | None,
        emit: EventEmitter,
        now: Callable[[], datetime],
        key_format: KeyFormat,
    ) -> None:
        self._store = store
        self._cache = cache
        self._invalidator = invalidator
        self.emit = emit
        self._now = now
        self._format = key_format

    def require(self, key_id: str) -> KeyRecord:
        """The stored record of ``key_id``, or :class:`KeyNotFound`."""
        if not isinstance(key_id, str) or not KEY_ID.fullmatch(key_id):
            # Never echo what was passed: it may be a secret pasted in the wrong place.
            if self._format.find_keys(str(key_id)):
                raise KeyRequestError("that is a key's secret, not its id (key_…); keep it secret")
            raise KeyNotFound("not a key id: key ids are key_ followed by 20 letters and digits")
        record = self._store.get(key_id)
        if record is None:
            raise KeyNotFound(f"no key with id {key_id}")
        return record

    def apply(self, key_id: str, change: Change) -> tuple[KeyRecord, KeyRecord, datetime]:
        """``(before, after, now)``; ``after is before`` when there was nothing to change.
        ``change`` may run more than once, and raises to refuse."""
        for _ in range(ATTEMPTS):
            now = self._now()
            current = self.require(key_id)
            changed = change(current, now)
            if changed is None:
                return current, current, now
            changed = replace(changed, revision=current.revision + 1)
            if self._store.update(changed):
                self.changed(key_id)
                return current, changed, now
        raise contended(key_id)

    def transition(
        self,
        key_id: str,
        change: Change,
        kind: EventKind,
        actor: str,
        details: Mapping[str, str] | None = None,
    ) -> KeyRecord:
        """:meth:`apply`, then emit a ``kind`` event by ``actor`` if anything changed."""
        before, after, now = self.apply(key_id, change)
        if after is not before:
            self.emit(KeyEvent(kind, key_id, now, details or {}, actor))
        return after

    def changed(self, key_id: str) -> None:
        """Tell this process, and the others, that ``key_id``'s record changed."""
        self._cache.invalidate(key_id)
        if self._invalidator is not None:
            self._invalidator.publish(key_id)


def contended(key_id: str) -> KeyConflict:
    return KeyConflict(f"key {key_id} kept changing while this change was made; try again")
