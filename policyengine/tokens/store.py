"""Where signing keys are kept: a two-call protocol, and the in-memory store.

A store holds the ring of signing keys, oldest first. :meth:`SigningKeyStore.update` is a
read-modify-write that no other writer can interleave with, so that two processes
rotating at once both land their new key. Backends: :class:`MemoryKeyStore` (one
process; the keys die with it) and :class:`~policyengine.tokens.keyfile.FileKeyStore`
(every process on a machine that can read one private file).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Protocol

from policyengine.tokens.signing import SigningKey

Ring = tuple[SigningKey, ...]


class SigningKeyStore(Protocol):
    def load(self) -> Ring:
        """The keys as stored now, oldest first; empty when none were ever stored.

        Called often (on every issue, and whenever a token names an unknown ``kid``), so
        a backend makes an unchanged ring cheap to load again.
        """
        ...

    def update(self, change: Callable[[Ring], Ring]) -> Ring:
        """Store ``change(current ring)`` atomically and return it.

        ``change`` may raise to store nothing; the error reaches the caller.
        """
        ...


class MemoryKeyStore:
    """Keys in this process only. Two :class:`SigningKeys` given one store share its keys."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ring: Ring = ()

    def __repr__(self) -> str:
        return f"MemoryKeyStore(<{len(self._ring)} keys>)"

    def load(self) -> Ring:
        return self._ring

    def update(self, change: Callable[[Ring], Ring]) -> Ring:
        with self._lock:
            self._ring = change(self._ring)
            return self._ring
