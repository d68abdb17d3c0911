"""The key store protocol, and the registry that opens a store from its URL.

A store keeps key records and, beside each, the keyed hash of its secret; never the
secret. Every backend failure surfaces as :class:`StorageError`, so that the engine alone
decides what an outage means. A change is written only over the revision it was made
from (compare-and-set): two processes changing one key at once cannot both win.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Literal, NamedTuple, Protocol, runtime_checkable

from policyengine.errors import ConfigError
from policyengine.record import KeyRecord
from policyengine.redaction import redact

KeyState = Literal["active", "disabled", "revoked", "expired", "rotated"]
KEY_STATES: tuple[KeyState, ...] = ("active", "disabled", "revoked", "expired", "rotated")


@dataclass(frozen=True, slots=True)
class KeyQuery:
    """Which keys :meth:`KeyStore.list` returns: newest first, ``limit`` of them, and only
    those created before ``after`` (``(created_at, id)`` of the previous page's last key)."""

    now: datetime
    limit: int
    environment: str | None = None
    type: str | None = None
    state: KeyState | None = None
    #: A case-insensitive substring of the label.
    label: str | None = None
    after: tuple[datetime, str] | None = None
    #: Only keys whose passive end has not been emitted as an event yet.
    end_unannounced: bool = False

    def matches(self, record: KeyRecord) -> bool:
        """The filter, in Python; the SQL stores say the same in their ``WHERE`` clause."""
        return (
            (self.environment is None or record.environment == self.environment)
            and (self.type is None or record.type == self.type)
            and (self.state is None or record.state(self.now) == self.state)
            and (self.label is None or self.label.lower() in record.label.lower())
            and (self.after is None or (record.created_at, record.id) < self.after)
            and (not self.end_unannounced or not record.end_announced)
        )


class StoredKey(NamedTuple):
    record: KeyRecord
    key_hash: str


class KeyStore(Protocol):
    #: Whether keys outlive the process (``memory://`` does not).
    persistent: bool
    #: Where the store keeps its own hashing secret, when it may keep one (SQLite does).
    secret_file: Path | None

    def insert(self, record: KeyRecord, key_hash: str) -> None:
        """Add a new key; its id and hash are new."""

    def get(self, key_id: str) -> KeyRecord | None: ...

    def get_by_hash(self, key_hash: str) -> StoredKey | None: ...

    def update(self, record: KeyRecord) -> bool:
        """Write ``record`` if the stored revision is ``record.revision - 1``; say whether it
        was. ``last_used_at`` is not written here: only :meth:`touch` moves it."""

    def rotate(self, old: KeyRecord, new: KeyRecord, new_hash: str) -> bool:
        """:meth:`update` ``old`` and :meth:`insert` ``new`` as one transaction."""

    def list(self, query: KeyQuery) -> Sequence[KeyRecord]: ...

    def touch(self, used: Mapping[str, datetime]) -> None:
        """Move each key's ``last_used_at`` forward to the given minute, in one batch."""

    def close(self) -> None: ...


class Changes(NamedTuple):
    """What a :class:`WatchedStore` logged after a position: ``(id, hash)`` of each key
    created, changed or deleted, and the position to ask from next time."""

    position: int
    keys: tuple[tuple[str, str], ...]


@runtime_checkable
class WatchedStore(Protocol):
    """A store that can say cheaply whether anyone else changed it, and what changed: its
    readers may then keep records until they change instead of for a fixed time, and
    refuse a key that no store holds without asking the store for it (SQLite)."""

    def version(self) -> int:
        """A number that moves whenever another connection commits to the store."""

    def stamp(self) -> bytes | None:
        """Something cheaper to read than :meth:`version` that moves whenever anyone
        commits (this connection too), or ``None`` if the store has no such thing."""

    def key_hashes(self) -> tuple[int, list[str]]:
        """The change log's position and the hash of every key, read together."""

    def changes_since(self, position: int) -> Changes | None:
        """What changed after ``position``; ``None`` if the log no longer reaches back
        that far (then read everything again)."""

    def stored_keys(self, limit: int, after: tuple[datetime, str] | None) -> Sequence[StoredKey]:
        """Up to ``limit`` keys with their hashes, newest first, from before ``after``."""


StoreFactory = Callable[[str, bool], KeyStore]
_SCHEMES: dict[str, StoreFactory] = {}


def register_scheme(scheme: str, factory: StoreFactory) -> None:
    """Make ``scheme://…`` URLs open with ``factory(url, create)``."""
    _SCHEMES[scheme] = factory


def open_store(url: str, *, create: bool = True) -> KeyStore:
    """The store at ``url``: ``memory://``, ``sqlite:///path`` or ``postgresql://…``.

    With ``create=False`` a store that does not exist yet is an error instead of being
    made, for commands that only read.
    """
    # The backends register themselves on import; importing them here keeps
    # ``open_store`` the one way in without a cycle between this module and theirs.
    from policyengine.keys import memory, postgres, sqlite  # noqa: F401

    scheme = url.partition("://")[0].lower() if isinstance(url, str) and "://" in url else ""
    factory = _SCHEMES.get(scheme)
    if factory is None:
        known = ", ".join(f"{name}://" for name in sorted(_SCHEMES))
        raise ConfigError(f"unknown key store URL {redact(url)!r}: use one of {known}")
    return factory(url, create)
