"""The stored description of an API key. It never holds the secret, only facts about it."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal, NoReturn

from policyengine.net import NetworkSet, parse_network
from policyengine.units import Rate

Environment = Literal["test", "live"]
#: A key's public id: ``key_`` and 20 letters and digits.
KEY_ID = re.compile(r"key_[0-9A-Za-z]{20}")
#: What a policy set's ``key_prefix`` may be: 2 to 16 lower-case letters and digits,
#: starting with a letter (``tdoc`` makes ``tdoc_live_…`` keys).
KEY_PREFIX = re.compile(r"[a-z][a-z0-9]{1,15}")
#: The prefix of keys when no policy file names one.
DEFAULT_KEY_PREFIX = "api"
ENVIRONMENTS: tuple[Environment, ...] = ("test", "live")
Refill = Literal["daily", "monthly", "never"]
#: The most usage credits a key or type may have: counted exactly everywhere, Redis's
#: Lua numbers (doubles) included.
MAX_CREDITS = 10**15

#: The instant a key without an expiry is treated as expiring at, in conditions.
NEVER = datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)
_NEVER_TS = NEVER.timestamp()

#: How many distinct lists of networks have their parsed form shared between records.
SHARED_NETWORKS = 4096
_networks: dict[tuple[str, ...], tuple[tuple[str, ...], tuple[tuple[int, int], ...], NetworkSet]]
_networks = {}


class ReadOnlyDict(dict):  # type: ignore[type-arg]
    """A mapping of a key record that may be shared by many records: it refuses changes."""

    __slots__ = ()

    def _refuse(self, *args: object, **kwargs: object) -> NoReturn:
        raise TypeError("a key record's mappings are read-only: build a new record instead")

    __setitem__ = __delitem__ = __ior__ = _refuse
    clear = pop = popitem = setdefault = update = _refuse


def _parsed_networks(
    allowed_ips: tuple[str, ...],
) -> tuple[tuple[str, ...], tuple[tuple[int, int], ...], NetworkSet]:
    """The networks parsed, shared by every record with the same list: keys of one
    organisation tend to name the same few networks, and each parse holds a few hundred
    bytes."""
    shared = _networks.get(allowed_ips)
    if shared is None:
        ranges = tuple(parse_network(cidr) for cidr in allowed_ips)
        shared = (allowed_ips, ranges, NetworkSet(ranges))
        if len(_networks) < SHARED_NETWORKS:
            _networks[allowed_ips] = shared
    return shared


@dataclass(frozen=True, slots=True)
class Usage:
    """A credit allowance: ``credits`` requests, refilled each day or month (or never)."""

    credits: int
    refill: Refill = "monthly"


@dataclass(frozen=True, slots=True)
class KeyRecord:
    id: str
    type: str
    label: str
    environment: Environment
    prefix: str
    last4: str
    created_at: datetime
    expires_at: datetime | None = None
    scopes: tuple[str, ...] = ()
    allowed_ips: tuple[str, ...] = ()
    rate_limits: dict[str, Rate] = field(default_factory=dict)
    usage: Usage | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    disabled: bool = False
    revoked_at: datetime | None = None
    rotated_to: str | None = None
    grace_until: datetime | None = None
    last_used_at: datetime | None = None
    #: The key this one replaced, when it was created by a rotation.
    rotated_from: str | None = None
    #: The id of the first key of this key's rotation chain (its own id, for a key that
    #: replaced none). Rate limits and usage credits are counted under it, so that they
    #: belong to the key and a rotation keeps them.
    lineage: str = ""
    #: Bumped by every change; a store writes a change only over the revision it was made from.
    revision: int = 0
    #: Whether the key's passive end (expiry, or the end of a rotation grace period) has been
    #: emitted as an event; set by the one process that wins the write, so it is emitted once.
    end_announced: bool = False
    # Derived once, so that a check compares numbers.
    created_ts: float = field(init=False, repr=False, compare=False)
    expires_ts: float = field(init=False, repr=False, compare=False)
    ip_ranges: tuple[tuple[int, int], ...] = field(init=False, repr=False, compare=False)
    networks: NetworkSet = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.lineage:
            object.__setattr__(self, "lineage", self.id)
        allowed_ips, ranges, networks = _parsed_networks(tuple(self.allowed_ips))
        object.__setattr__(self, "allowed_ips", allowed_ips)
        object.__setattr__(self, "created_ts", self.created_at.timestamp())
        expires = _NEVER_TS if self.expires_at is None else self.expires_at.timestamp()
        object.__setattr__(self, "expires_ts", expires)
        object.__setattr__(self, "ip_ranges", ranges)
        object.__setattr__(self, "networks", networks)

    @property
    def display(self) -> str:
        """How a key is shown: its prefix and last four characters, never more."""
        return f"{self.prefix}…{self.last4}"

    def state(self, now: datetime) -> str:
        """``active``, ``disabled``, ``revoked``, ``expired`` or ``rotated`` at ``now``."""
        if self.revoked_at is not None and self.revoked_at <= now:
            return "revoked"
        if self.disabled:
            return "disabled"
        if self.expires_at is not None and self.expires_at <= now:
            return "expired"
        if self.rotated_to is not None:
            return "rotated"
        return "active"
