"""The limiter the engine calls once per request, and the URL schemes that open one.

As in the ``limits`` library, the strategy (GCRA, in :mod:`.gcra`, and the all-or-nothing
rule, in :mod:`.outcome`) is apart from storage, and each storage backend registers under
a URL scheme: ``memory://`` for one process, ``redis://host:port/db`` (or ``rediss://``)
for several. A backend raises :class:`~policyengine.errors.StorageError` for any failure
of its storage and decides nothing about it; the caller says what an outage means.
"""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import Any, Protocol, TypeVar

from policyengine.errors import ConfigError
from policyengine.limits.outcome import LimitOutcome
from policyengine.policy.model import RateLimit
from policyengine.record import Usage
from policyengine.redaction import redact


class Limiter(Protocol):
    """A limiter whose state is in this process, which never waits for a network or a
    disk, says so with a class attribute ``in_process = True``: the engine then decides on
    an event loop without handing the check to a worker thread."""

    def acquire(
        self, key_id: str, limits: Sequence[RateLimit], usage: Usage | None, now: float
    ) -> LimitOutcome:
        """Admit one request of ``key_id`` at ``now`` (seconds since the epoch), or not.

        The engine passes a key's ``lineage``, the first id of its rotation chain, so that
        every secret a key has had shares its limits and credits.

        All or nothing: the request consumes one unit of every limit and one credit only
        if every limit and the credits allow it; a denied request changes nothing.
        """
        ...

    def peek(
        self, key_id: str, limits: Sequence[RateLimit], usage: Usage | None, now: float
    ) -> LimitOutcome:
        """What :meth:`acquire` would answer at ``now``, consuming nothing."""
        ...

    def reset(self, key_id: str) -> None:
        """Forget every limit and credit counter of ``key_id`` (for tests and admins)."""
        ...

    def close(self) -> None: ...


class SteppingLimiter(ABC):
    """A backend whose ``acquire`` and ``peek`` are one step over the stored state: read,
    decide, and (for ``acquire``, if admitted) write."""

    @abstractmethod
    def _step(
        self,
        key_id: str,
        limits: Sequence[RateLimit],
        usage: Usage | None,
        now: float,
        consume: bool,
    ) -> LimitOutcome: ...

    def acquire(
        self, key_id: str, limits: Sequence[RateLimit], usage: Usage | None, now: float
    ) -> LimitOutcome:
        return self._step(key_id, limits, usage, now, True)

    def peek(
        self, key_id: str, limits: Sequence[RateLimit], usage: Usage | None, now: float
    ) -> LimitOutcome:
        return self._step(key_id, limits, usage, now, False)


def fails_open(limits: Sequence[RateLimit], usage: Usage | None) -> bool:
    """Whether a request may pass unmetered when the limiter fails (``StorageError``).

    Only when every limit says ``on_error: allow``: one check covers them all, so one
    limit that fails closed decides, and credits, which are a quota sold or granted,
    always fail closed.
    """
    return usage is None and all(limit.on_error == "allow" for limit in limits)


LimiterT = TypeVar("LimiterT", bound=Callable[..., Limiter])

_schemes: dict[str, Callable[..., Limiter]] = {}
# Backends that register themselves when imported; imported only when asked for, so
# that ``memory://`` needs no Redis client installed.
_builtin = {
    "memory": "policyengine.limits.memory",
    "redis": "policyengine.limits.redis",
    "rediss": "policyengine.limits.redis",
}


def register_scheme(*schemes: str) -> Callable[[LimiterT], LimiterT]:
    """Class decorator: ``open_limiter("<scheme>://…")`` builds the class from the URL."""

    def register(factory: LimiterT) -> LimiterT:
        for scheme in schemes:
            _schemes[scheme] = factory
        return factory

    return register


def open_limiter(url: str, **options: Any) -> Limiter:
    """The limiter a URL names: ``memory://``, ``redis://host:port/db``, ``rediss://…``.

    ``options`` go to the backend (for Redis: ``prefix``, ``timeout``).
    """
    scheme, separator, _ = url.partition("://") if isinstance(url, str) else ("", "", "")
    if not separator:
        raise ConfigError(
            f"invalid limiter URL {redact(url)!r}: write a scheme and an address, such as "
            "memory:// or redis://localhost:6379/0"
        )
    scheme = scheme.lower()
    if scheme not in _schemes and scheme in _builtin:
        try:
            importlib.import_module(_builtin[scheme])
        except ImportError as error:
            raise ConfigError(
                f"limiter URL {redact(url)!r} needs the {error.name} package: "
                "pip install 'policyengine[redis]'"
            ) from None
    factory = _schemes.get(scheme)
    if factory is None:
        known = ", ".join(f"{name}://" for name in sorted(_schemes.keys() | _builtin.keys()))
        raise ConfigError(f"unknown limiter URL scheme in {redact(url)!r}: expected one of {known}")
    return factory(url, **options)
