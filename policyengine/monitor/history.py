"""What the detectors remember of a key: its networks, its last use, its requests per
minute. Kept in memory for the keys in use, and loaded from the store the first time a
process sees a key, so that a restart forgets nothing that matters."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

#: A request with no client address counts as from this network, which is never new.
NO_NETWORK = "-"
MINUTE = 60_000_000


@dataclass(slots=True)
class KeyHistory:
    """What the store remembers of a key: each network's first and last use, and its
    requests per minute (by the minute's start in µs) over the baseline window."""

    networks: dict[str, tuple[datetime, datetime]] = field(default_factory=dict)
    minutes: dict[int, int] = field(default_factory=dict)


#: ``(key id, the start of the baseline window) → its history``.
LoadHistory = Callable[[str, datetime], KeyHistory]


@dataclass(slots=True)
class KeyWatch:
    """One key as the detectors follow it."""

    #: Each network the key was used from, and when last.
    networks: dict[str, datetime]
    first_seen: datetime
    last_seen: datetime | None
    #: The current minute (its start in µs), its requests so far, and the moving
    #: average of the minutes before it.
    minute: int
    count: int
    baseline: float
    spiked: bool = False
    saturated_since: datetime | None = None
    saturated_last: datetime | None = None

    @classmethod
    def of(cls, history: KeyHistory, at: int, now: datetime, window: float) -> KeyWatch:
        networks = {net: last for net, (_, last) in history.networks.items()}
        firsts = [first for first, _ in history.networks.values()]
        minute = at // MINUTE * MINUTE
        return cls(
            networks,
            min(firsts) if firsts else now,
            max(networks.values()) if networks else None,
            minute,
            history.minutes.get(minute, 0),
            baseline(history.minutes, minute, window),
        )

    def roll(self, minute: int, window: float) -> None:
        """Move on to ``minute``: the minutes since the last one join the average."""
        if minute <= self.minute:
            return
        a = alpha(window)
        closed = a * self.count + (1 - a) * self.baseline
        gap = (minute - self.minute) // MINUTE - 1
        self.baseline = closed * (1 - a) ** gap
        self.minute, self.count, self.spiked = minute, 0, False


def baseline(minutes: Mapping[int, int], current: int, window: float) -> float:
    """The moving average of requests per minute before ``current``, zeros included."""
    a = alpha(window)
    average = 0.0
    start = current - int(window // 60) * MINUTE
    for minute in range(start, current, MINUTE):
        average = a * minutes.get(minute, 0) + (1 - a) * average
    return average


def alpha(window: float) -> float:
    """An exponential moving average's weight for a window of ``window`` seconds."""
    return 2 / (window / 60 + 1)


class Networks:
    """Client address → the network it counts as, by the prefixes given: ``(24, 48)``
    makes it its ``/24`` (IPv4) or ``/48`` (IPv6). Addresses repeat, so the answers are
    kept, as long as the prefixes stay the same."""

    def __init__(self) -> None:
        self._prefixes = (24, 48)
        self._found: dict[str, str] = {}

    def __call__(self, client: str | None, prefixes: tuple[int, int]) -> str:
        if client is None:
            return NO_NETWORK
        if prefixes != self._prefixes:
            self._prefixes = prefixes
            self._found.clear()
        found = self._found.get(client)
        if found is None:
            v4, v6 = prefixes
            address = ipaddress.ip_address(client)
            prefix = v4 if address.version == 4 else v6
            found = str(ipaddress.ip_network(f"{client}/{prefix}", strict=False))
            if len(self._found) >= 65536:
                self._found.clear()
            self._found[client] = found
        return found
