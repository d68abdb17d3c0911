"""``engine.keys``: create, look up, list, change, rotate and end keys, over one store.

Every change is validated against the current policy set before anything is written,
written with compare-and-set, dropped from this process's lookup cache at once, published
to the other processes when Redis is configured, and emitted as a :class:`KeyEvent`.
"""

from __future__ import annotations

import builtins
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from policyengine.errors import ConfigError, KeyRequestError
from policyengine.keys import attributes as attrs
from policyengine.keys import transitions
from policyengine.keys import validation as valid
from policyengine.keys.cache import CHECK_INTERVAL, DEFAULT_CACHE_MEMORY, CacheSettings
from policyengine.keys.changes import ATTEMPTS, ChangeWriter, contended
from policyengine.keys.events import APP, EventEmitter, EventSink, KeyEvent, created_event
from policyengine.keys.format import KeyFormat
from policyengine.keys.hashing import KeyHasher, resolve_hasher
from policyengine.keys.invalidation import DEFAULT_CHANNEL, Invalidator, RedisInvalidator
from policyengine.keys.lookup import KeyLookups
from policyengine.keys.maintenance import Maintenance
from policyengine.keys.pages import IssuedKey, KeyPage, decode_cursor, encode_cursor
from policyengine.keys.store import KEY_STATES, KeyQuery, KeyStore, open_store
from policyengine.policy.model import PolicySet
from policyengine.record import DEFAULT_KEY_PREFIX, KeyRecord, Usage
from policyengine.units import Rate, shown

Clock = Callable[[], datetime]
DEFAULT_LIMIT = 50
MAX_LIMIT = 1000


def utc_now() -> datetime:
    return datetime.now(UTC)


class KeyManager:
    """``policies`` returns the current policy set; it is called on each change, so that a
    reloaded policy set applies at once. ``clock`` returns an aware datetime."""

    def __init__(
        self,
        store: KeyStore,
        policies: Callable[[], PolicySet],
        *,
        hasher: KeyHasher,
        key_format: KeyFormat | None = None,
        clock: Clock | None = None,
        events: EventSink | None = None,
        cache_ttl: float = 5.0,
        cache_size: int | None = None,
        cache_memory: int = DEFAULT_CACHE_MEMORY,
        negative_cache_ttl: float | None = None,
        negative_cache_size: int = 10_000,
        cache_check_interval: float = CHECK_INTERVAL,
        invalidator: Invalidator | None = None,
        maintenance_interval: float | None = 60.0,
        actor: str = APP,
    ) -> None:
        self._store = store
        self._policies = policies
        self._hasher = hasher
        self._format = key_format or KeyFormat(policies().key_prefix or DEFAULT_KEY_PREFIX)
        self._clock = clock or utc_now
        self._now()  # a clock that returns naive datetimes is refused here, not mid-request
        self._actor = valid.actor(actor, self._format)
        self._emit = EventEmitter(events)
        # With an injected clock the cache ages on it too, so that tests can step past the TTL.
        timer = time.monotonic if clock is None else (lambda: self._now().timestamp())
        settings = CacheSettings(
            cache_ttl,
            cache_size,
            cache_memory,
            negative_cache_ttl,
            negative_cache_size,
            cache_check_interval,
        )
        self._lookups = KeyLookups(store, hasher, self._format, settings, timer)
        self._invalidator = invalidator
        self._writer = ChangeWriter(
            store, self._lookups.cache, invalidator, self._emit, self._now, self._format
        )
        self._closed = False
        self._maintenance = Maintenance(store, self._lookups, self._emit, self._now)
        if invalidator is not None:
            invalidator.start(self._lookups.cache.invalidate, self._lookups.cache.clear)
        if maintenance_interval is not None:
            self._maintenance.start(maintenance_interval)

    @classmethod
    def open(
        cls,
        store: str,
        policies: Callable[[], PolicySet],
        *,
        secret: str | bytes | None = None,
        redis: str | None = None,
        redis_channel: str = DEFAULT_CHANNEL,
        listen: bool = True,
        create: bool = True,
        **options: Any,
    ) -> KeyManager:
        """A manager over the store at URL ``store``. With ``redis``, changes reach other
        processes at once (``listen=False`` only publishes, for short-lived tools). The
        hashing secret is ``secret``, else ``$POLICYENGINE_SECRET``, else (SQLite) a file
        beside the database, created on first use."""
        opened = open_store(store, create=create)
        invalidator = None
        try:
            hasher = resolve_hasher(
                secret,
                secret_file=opened.secret_file,
                persistent=opened.persistent,
                holds_keys=lambda: bool(opened.list(KeyQuery(utc_now(), 1))),
            )
            if redis is not None:
                invalidator = RedisInvalidator(redis, channel=redis_channel, listen=listen)
            return cls(opened, policies, hasher=hasher, invalidator=invalidator, **options)
        except BaseException:
            if invalidator is not None:
                invalidator.close()
            opened.close()
            raise

    @property
    def key_format(self) -> KeyFormat:
        return self._format

    def listen(self, sink: EventSink) -> None:
        """Hand every lifecycle event to ``sink`` too, besides the ``events`` given."""
        self._emit.add(sink)

    def derived_secret(self, purpose: str) -> tuple[bytes, bool]:
        """A key of its own for ``purpose``, derived from the hashing secret, and whether
        that secret dies with the process (a store in memory, with no secret given)."""
        return self._hasher.derive(purpose), self._hasher.ephemeral

    def create(
        self,
        *,
        type: str,
        label: str,
        environment: str,
        expires_in: str | timedelta | None = None,
        allowed_ips: Iterable[str] | None = None,
        rate_limit: str | Rate | None = None,
        rate_limits: Mapping[str, str | Rate] | None = None,
        scopes: Iterable[str] | None = None,
        usage: Usage | None = None,
        metadata: Mapping[str, str] | None = None,
        actor: str | None = None,
    ) -> IssuedKey:
        """A new key. Its secret is in the result and nowhere else, ever. Without
        ``expires_in`` the key lives as long as its type allows (for ever, if no limit).
        ``actor`` names who asked, in the lifecycle event (every change takes one)."""
        who = self._who(actor)
        now = self._now()
        kind = valid.key_type(self._policies(), type)
        env = valid.environment(kind, environment)
        asked = attrs.Requested(
            label=label,
            expires_in=expires_in,
            allowed_ips=allowed_ips,
            rate_limit=rate_limit,
            rate_limits=rate_limits,
            scopes=scopes,
            usage=usage,
            metadata=metadata,
        )
        attributes = attrs.new_attributes(kind, asked, now, self._format)
        issued = attrs.issue(self._format, kind.name, env, attributes, now)
        key_hash = self._hasher.hash(issued.secret)
        self._store.insert(issued.key, key_hash)
        self._lookups.added(key_hash)
        self._emit(created_event(issued.key, now, who))
        return issued

    def get(self, key_id: str) -> KeyRecord:
        return self._writer.require(key_id)

    def list(
        self,
        *,
        environment: str | None = None,
        type: str | None = None,
        state: str | None = None,
        label: str | None = None,
        limit: int = DEFAULT_LIMIT,
        cursor: str | None = None,
    ) -> KeyPage:
        """Keys, newest first, a page at a time: pass ``page.next_cursor`` for the next.
        ``label`` matches any part of the label, ignoring case."""
        if state is not None and (not isinstance(state, str) or state not in KEY_STATES):
            raise KeyRequestError(
                f"invalid state {shown(state)}: use one of {', '.join(KEY_STATES)}"
            )
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
            raise KeyRequestError(f"limit must be a whole number from 1 to {MAX_LIMIT}")
        query = KeyQuery(
            now=self._now(),
            limit=limit + 1,  # one more than asked says whether another page exists
            environment=valid.name_filter(environment, "environment"),
            type=valid.name_filter(type, "type"),
            state=state,
            label=valid.label_filter(label),
            after=None if cursor is None else decode_cursor(cursor),
        )
        found = self._store.list(query)
        page = tuple(found[:limit])
        return KeyPage(page, encode_cursor(page[-1]) if len(found) > limit else None)

    def update(
        self,
        key_id: str,
        *,
        label: str | None = None,
        expires_in: str | timedelta | None = None,
        allowed_ips: Iterable[str] | None = None,
        rate_limit: str | Rate | None = None,
        rate_limits: Mapping[str, str | Rate] | None = None,
        scopes: Iterable[str] | None = None,
        usage: Usage | None = None,
        metadata: Mapping[str, str] | None = None,
        actor: str | None = None,
    ) -> KeyRecord:
        """Change what is given and keep the rest. ``rate_limits`` and ``metadata`` replace
        the key's whole mapping; ``rate_limit`` sets only the ``default`` limit;
        ``expires_in`` counts from now, and the lifetime from creation stays within the
        type's maximum."""
        asked = attrs.Requested(
            label=label,
            expires_in=expires_in,
            allowed_ips=allowed_ips,
            rate_limit=rate_limit,
            rate_limits=rate_limits,
            scopes=scopes,
            usage=usage,
            metadata=metadata,
        )
        if asked == attrs.Requested():
            raise KeyRequestError("nothing to update: pass at least one attribute to change")
        who = self._who(actor)

        def change(record: KeyRecord, now: datetime) -> KeyRecord | None:
            transitions.require_updatable(record, now)
            kind = valid.key_type(self._policies(), record.type)
            new = attrs.changed_attributes(kind, record, asked, now, self._format)
            if new == attrs.KeyAttributes.of(record):
                return None
            return attrs.with_attributes(record, new)

        before, after, now = self._writer.apply(key_id, change)
        if after is not before:
            fields = " ".join(attrs.differing(before, after))
            self._emit(KeyEvent("updated", key_id, now, {"changed": fields}, who))
        return after

    def rotate(
        self,
        key_id: str,
        *,
        grace: str | timedelta = "1h",
        expires_in: str | timedelta | None = None,
        actor: str | None = None,
    ) -> IssuedKey:
        """A new key with the same attributes; the old secret keeps working until ``grace``
        has passed, then counts as revoked. The new key lives as long as the old one was
        given (from now), or ``expires_in``."""
        length = valid.duration(grace, "grace", allow_zero=True)
        who = self._who(actor)
        for _ in range(ATTEMPTS):
            now = self._now()
            old = self._writer.require(key_id)
            transitions.require_rotatable(old, now)
            kind = valid.key_type(self._policies(), old.type)
            attributes = attrs.successor_attributes(old, kind, expires_in, now)
            issued = attrs.issue(self._format, old.type, old.environment, attributes, now)
            successor = replace(issued.key, rotated_from=old.id, lineage=old.lineage)
            retired = transitions.retired(old, successor.id, now, length)
            retired = replace(retired, revision=old.revision + 1)
            key_hash = self._hasher.hash(issued.secret)
            if self._store.rotate(retired, successor, key_hash):
                self._lookups.added(key_hash)
                self._writer.changed(key_id)
                until = retired.grace_until.isoformat() if retired.grace_until else ""
                details = {"rotated_to": successor.id, "grace_until": until}
                self._emit(KeyEvent("rotated", key_id, now, details, who))
                self._emit(created_event(successor, now, who))
                return IssuedKey(issued.secret, successor)
        raise contended(key_id)

    def disable(self, key_id: str, *, actor: str | None = None) -> KeyRecord:
        """Stop a key working until :meth:`enable`; nothing else about it changes."""
        return self._writer.transition(key_id, transitions.disabled, "disabled", self._who(actor))

    def enable(self, key_id: str, *, actor: str | None = None) -> KeyRecord:
        return self._writer.transition(key_id, transitions.enabled, "enabled", self._who(actor))

    def revoke(
        self,
        key_id: str,
        *,
        reason: str | None = None,
        details: Mapping[str, str] | None = None,
        actor: str | None = None,
    ) -> KeyRecord:
        """End a key for good, at once, grace period or not. Revoking twice is harmless.

        ``reason`` is a short text checked like a label; ``details`` (such as where a
        leaked key was found) go into the event as they are, made printable and cut at
        4,096 characters, so that nothing in them can stop a revocation."""
        recorded = valid.event_details(details)
        if reason is not None:
            recorded["reason"] = valid.label(reason, self._format)
        who = self._who(actor)
        return self._writer.transition(key_id, transitions.revoked, "revoked", who, recorded)

    def lookup(
        self, secret: str, *, now: datetime | None = None, touch: bool = True, wait: bool = True
    ) -> KeyRecord | None:
        """The record of the key whose secret this is, or ``None`` if there is none.

        The hot path: a malformed secret raises :class:`~policyengine.errors.InvalidValue`
        without a store lookup, and what the store says is cached: with SQLite until the
        key changes, otherwise for ``cache_ttl`` seconds (refreshed before then while the
        key is in use). The record comes whatever its
        state; the caller judges ``record.state(now)``. ``touch`` notes the use for ``last_used_at``
        (pass ``False`` for replays and policy tests). With ``wait=False`` a lookup that
        would query the store raises :class:`~policyengine.keys.lookup.NotCached` instead.
        """
        return self._lookups.lookup(secret, now or self._now, touch, wait)

    @property
    def lookups(self) -> KeyLookups:
        """The lookups behind :meth:`lookup`, for a caller on the hot path."""
        return self._lookups

    def lookup_id(self, key_id: str, *, wait: bool = True) -> KeyRecord | None:
        """The record of a key by its id, or ``None``: the hot path for tokens, which name
        their key. Cached like :meth:`lookup`; a change here is visible at once."""
        return self._lookups.lookup_id(key_id, wait)

    def sweep(self, now: datetime | None = None) -> builtins.list[KeyEvent]:
        """Emit ``expired`` for keys that have expired and ``revoked`` for rotated keys whose
        grace period has ended, each once across all processes sharing the store. The
        maintenance thread does this every ``maintenance_interval`` seconds."""
        return self._maintenance.sweep(now or self._now())

    def flush(self) -> None:
        """Write the ``last_used_at`` minutes noted since the last flush, in one batch."""
        self._lookups.flush(self._now())

    def close(self) -> None:
        """Stop the background threads, write pending ``last_used_at``, close the store."""
        if self._closed:
            return
        self._closed = True
        try:
            self._maintenance.stop()
        finally:
            if self._invalidator is not None:
                self._invalidator.close()
            self._store.close()

    def __enter__(self) -> KeyManager:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _who(self, actor: str | None) -> str:
        return self._actor if actor is None else valid.actor(actor, self._format)

    def _now(self) -> datetime:
        moment = self._clock()
        if moment.tzinfo is UTC:
            return moment
        if moment.tzinfo is None:
            raise ConfigError("the key manager's clock must return timezone-aware datetimes")
        return moment.astimezone(UTC)
