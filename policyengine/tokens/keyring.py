"""The signing keys a token service signs with and verifies against, and their rotation.

The ring is ordered oldest first. At an instant ``now``:

- the *signer* is the newest key whose ``signs_from`` has come (failing that, the oldest
  key that still verifies: a clock running behind the one that made the ring);
- a key *verifies* until its ``retires_at``; a key published ahead verifies already.

:meth:`SigningKeys.rotate` adds a key and gives each key it supersedes a ``retires_at``:
the new key's ``signs_from`` plus ``retire_after``, which the token service sets to the
longest token lifetime plus its leeway. So a token signed just before a rotation stays
good until it expires, and its key is of no use after that. Retired keys are dropped at
the next rotation, and at most ``max_keys`` are kept whatever their dates.

The ring lives in a :class:`~policyengine.tokens.store.SigningKeyStore`; this object keeps
it in memory and reloads it before signing, for the JWKS, whenever a token names a
``kid`` it does not hold, and otherwise at most every ``refresh_interval`` seconds, so
that a rotation or a retirement made by another process reaches this one.
"""

from __future__ import annotations

import math
import time
from datetime import UTC, datetime, timedelta

from policyengine.errors import ConfigError, KeyRequestError
from policyengine.tokens.signing import SigningKey, aware
from policyengine.tokens.store import MemoryKeyStore, Ring, SigningKeyStore

Jwks = dict[str, list[dict[str, str]]]


class SigningKeys:
    def __init__(
        self,
        store: SigningKeyStore | None = None,
        *,
        max_keys: int = 8,
        refresh_interval: float = 1.0,
        now: datetime | None = None,
    ) -> None:
        """Open the keys in ``store`` (default: a new :class:`MemoryKeyStore`), making a
        first key, which signs from ``now`` (default: the current time), if it holds none."""
        if isinstance(max_keys, bool) or not isinstance(max_keys, int) or max_keys < 2:
            raise ConfigError(
                "max_keys must be a whole number of at least 2: the key that signs and the "
                "one it replaced"
            )
        if (
            isinstance(refresh_interval, bool)
            or not isinstance(refresh_interval, int | float)
            or not 0 <= refresh_interval < math.inf
        ):
            raise ConfigError("refresh_interval must be a number of seconds, 0 or more")
        self._store: SigningKeyStore = MemoryKeyStore() if store is None else store
        self._max_keys = max_keys
        self._refresh_interval = float(refresh_interval)
        ring = self._store.load()
        if not ring:
            start = datetime.now(UTC) if now is None else aware(now)
            ring = self._store.update(lambda current: current or (SigningKey.generate(start),))
        self._install(ring)

    def __repr__(self) -> str:
        return f"SigningKeys({self._store!r}, kids={list(self.kids)})"

    @property
    def kids(self) -> tuple[str, ...]:
        """The ``kid`` of every key held in memory, oldest first."""
        return tuple(key.kid for key in self._ring)

    def refresh(self) -> None:
        """Reload the ring from the store."""
        self._install(self._store.load())

    def signer(self, now: datetime) -> SigningKey:
        """The key that signs a token issued at ``now``."""
        self.refresh()
        return _signer(self._ring, aware(now))

    def verifying_key(self, kid: str, now: datetime) -> SigningKey | None:
        """The key named ``kid`` if it verifies at ``now``; ``None`` if unknown or retired.

        ``kid`` is only ever a dictionary key here: it is never a path or a query.
        """
        if time.monotonic() >= self._next_refresh:
            self.refresh()
        key = self._by_kid.get(kid)
        if key is None:
            self.refresh()
            key = self._by_kid.get(kid)
        return key if key is not None and key.verifies_at(now) else None

    def jwks(self, now: datetime) -> Jwks:
        """The JWKS document (RFC 7517) of the public keys that verify at ``now``, newest
        first. It holds no private member, whatever the store holds."""
        self.refresh()
        moment = aware(now)
        return {
            "keys": [key.public_jwk() for key in reversed(self._ring) if key.verifies_at(moment)]
        }

    def rotate(
        self,
        now: datetime,
        *,
        retire_after: timedelta,
        publish_ahead: timedelta = timedelta(0),
    ) -> SigningKey:
        """Add a new key that signs from ``now + publish_ahead``; the keys it supersedes
        verify for ``retire_after`` more after that, then retire."""
        moment = aware(now)
        if retire_after < timedelta(0) or publish_ahead < timedelta(0):
            raise KeyRequestError("retire_after and publish_ahead must not be negative")
        new = SigningKey.generate(moment, moment + publish_ahead)
        retire_at = new.signs_from + retire_after

        def change(ring: Ring) -> Ring:
            kept = tuple(key.retiring(retire_at) for key in ring if key.verifies_at(moment))
            return (*kept[-(self._max_keys - 1) :], new)

        self._install(self._store.update(change))
        return new

    def retire(self, kid: str, now: datetime) -> None:
        """Drop the key ``kid`` at once, say because it leaked: every token it signed
        stops verifying. The key that signs at ``now`` cannot be retired (rotate first),
        nor can one published to sign after it."""
        moment = aware(now)

        def change(ring: Ring) -> Ring:
            kids = [key.kid for key in ring]
            if kid not in kids:
                raise KeyRequestError(f"there is no signing key {kid!r} to retire")
            if kids.index(kid) >= ring.index(_signer(ring, moment)):
                raise KeyRequestError(
                    f"signing key {kid!r} signs tokens now or will: rotate first, then retire it"
                )
            return tuple(key for key in ring if key.kid != kid)

        self._install(self._store.update(change))

    def _install(self, ring: Ring) -> None:
        _check_ring(ring)
        # One assignment, so that a concurrent reader sees the old view or the new one.
        self._view = (ring, {key.kid: key for key in ring})
        self._next_refresh = time.monotonic() + self._refresh_interval

    @property
    def _ring(self) -> Ring:
        return self._view[0]

    @property
    def _by_kid(self) -> dict[str, SigningKey]:
        return self._view[1]


def _signer(ring: Ring, now: datetime) -> SigningKey:
    usable = [key for key in ring if key.verifies_at(now)]
    started = [key for key in usable if key.signs_from <= now]
    return started[-1] if started else usable[0]


def _check_ring(ring: Ring) -> None:
    if not ring:
        raise ConfigError("the signing key store holds no keys")
    if len({key.kid for key in ring}) != len(ring):
        raise ConfigError("the signing key store holds two keys with one kid")
    if ring[-1].retires_at is not None:
        raise ConfigError("the newest signing key in the store is marked as retired")
