"""The anomaly detectors: they read decision rows as the writer writes them, never a
check, and report each sign of trouble as a :class:`~policyengine.monitor.alerts.Sign`.

Every kind of :mod:`policyengine.policy.alerts` is here, with the thresholds the policy
set gives it; a kind that is turned off is not looked at.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from policyengine.decision import Code
from policyengine.monitor.alerts import Sign
from policyengine.monitor.history import MINUTE, NO_NETWORK, KeyWatch, LoadHistory, Networks
from policyengine.monitor.probing import MAX_WATCHED, PROBING, DenialBursts
from policyengine.monitor.rows import (
    AT,
    CLIENT,
    CODE,
    ENVIRONMENT,
    EXPIRES,
    KEY_ENVIRONMENT,
    KEY_ID,
    LIMITS,
    MOMENT,
    OK,
    PATH,
    DecisionRow,
    credits,
    tightest,
)
from policyengine.policy.alerts import AlertSettings
from policyengine.units import format_duration

#: The baseline window when volume spikes are not watched (networks are, all the same).
_WINDOW = 3600.0

Settings = Mapping[str, AlertSettings]
WRONG_ENVIRONMENT, REVOKED, RATE_LIMITED = (
    Code.WRONG_ENVIRONMENT.value,
    Code.REVOKED.value,
    Code.RATE_LIMITED.value,
)


@dataclass(frozen=True, slots=True)
class _Watch:
    """The settings in force, worked out once per batch: each kind's thresholds, or
    ``None`` for a kind that is off."""

    new_network: AlertSettings | None
    #: The prefixes that make a network of an address (IPv4, IPv6), whether or not new
    #: networks are watched.
    prefixes: tuple[int, int]
    dormant_after: timedelta | None
    #: ``(baseline, minimum, factor)``.
    volume: tuple[float, float, float] | None
    volume_window: timedelta
    saturated_for: timedelta | None
    credits_below: float | None
    expiring_within: timedelta | None
    wrong_environment: bool
    revoked: bool
    #: ``(denials, within)``.
    burst: tuple[int, float] | None

    @classmethod
    def of(cls, settings: Settings) -> _Watch:
        on = {kind: s for kind, s in settings.items() if s.enabled}

        def seconds(kind: str, name: str) -> timedelta | None:
            return timedelta(seconds=on[kind][name]) if kind in on else None

        network = on.get("new_network")
        volume = on.get("volume_spike")
        burst = on.get("denial_burst")
        return cls(
            network,
            (int(network["ipv4_prefix"]), int(network["ipv6_prefix"])) if network else (24, 48),
            seconds("dormant_key", "after"),
            (volume["baseline"], volume["minimum"], volume["factor"]) if volume else None,
            timedelta(seconds=volume["baseline"] if volume else _WINDOW),
            seconds("rate_limit_saturated", "for"),
            on["credits_low"]["below"] if "credits_low" in on else None,
            seconds("expiring_key_in_use", "within"),
            "wrong_environment" in on,
            "revoked_key_used" in on,
            (int(burst["denials"]), burst["within"]) if burst else None,
        )


class Detectors:
    def __init__(self, history: LoadHistory) -> None:
        self._history = history
        self._network = Networks()
        self._keys: OrderedDict[str, KeyWatch] = OrderedDict()
        self._bursts = DenialBursts()
        #: ``(key id, network) → (first, last use)`` since the writer last took them.
        self.networks: dict[tuple[str, str], tuple[datetime, datetime]] = {}

    def observe(self, rows: list[DecisionRow], settings: Settings) -> list[Sign]:
        signs: list[Sign] = []
        watch = _Watch.of(settings)
        for row in rows:
            if watch.burst is not None and row[CODE] in PROBING:
                self._bursts.add(row, watch.burst, signs)
            key_id = row[KEY_ID]
            if key_id is not None:
                self._key(key_id, row, watch, signs)
        return signs

    def take_networks(self) -> dict[tuple[str, str], tuple[datetime, datetime]]:
        taken, self.networks = self.networks, {}
        return taken

    def _key(self, key_id: str, row: DecisionRow, on: _Watch, signs: list[Sign]) -> None:
        at: datetime = row[MOMENT]
        watch = self._watch(key_id, at, row[AT], on)
        client = row[CLIENT]
        code = row[CODE]
        network = self._network(client, on.prefixes)
        if on.new_network and network not in watch.networks and network != NO_NETWORK:
            known = sorted(n for n in watch.networks if n != NO_NETWORK)
            if known:
                signs.append(
                    _sign(
                        "new_network",
                        key_id,
                        at,
                        f"key {key_id} was used from {network}, a network it had not used",
                        network=network,
                        client=client,
                        known_networks=known[:20],
                    )
                )
        watch.networks[network] = at
        seen = self.networks.get((key_id, network))
        self.networks[(key_id, network)] = (at if seen is None or at < seen[0] else seen[0], at)
        if on.dormant_after is not None and watch.last_seen is not None:
            idle = at - watch.last_seen
            if idle >= on.dormant_after:
                signs.append(
                    _sign(
                        "dormant_key",
                        key_id,
                        at,
                        f"key {key_id} was used after {_days(idle)} unused",
                        last_used=watch.last_seen.isoformat(),
                        idle_seconds=int(idle.total_seconds()),
                    )
                )
        if watch.last_seen is None or at > watch.last_seen:
            watch.last_seen = at
        if on.volume is not None:
            self._volume(key_id, watch, row, on, signs)
        if on.saturated_for is not None:
            self._saturation(key_id, watch, row, on.saturated_for, signs)
        if on.wrong_environment and code == WRONG_ENVIRONMENT:
            signs.append(
                _sign(
                    "wrong_environment",
                    key_id,
                    at,
                    f"{row[KEY_ENVIRONMENT]} key {key_id} was sent to a {row[ENVIRONMENT]} service",
                    key_environment=row[KEY_ENVIRONMENT],
                    service_environment=row[ENVIRONMENT],
                    client=client,
                )
            )
        if on.revoked and code == REVOKED:
            signs.append(
                _sign(
                    "revoked_key_used",
                    key_id,
                    at,
                    f"revoked key {key_id} is still being tried",
                    client=client,
                    path=row[PATH],
                )
            )
        left_credits = credits(row[LIMITS]) if on.credits_below is not None else None
        if left_credits is not None:
            _, remaining, quota = left_credits
            if quota and remaining / quota <= (on.credits_below or 0):
                signs.append(
                    _sign(
                        "credits_low",
                        key_id,
                        at,
                        f"key {key_id} has {remaining} of {quota} credits left",
                        remaining=remaining,
                        quota=quota,
                    )
                )
        expires: datetime | None = row[EXPIRES]
        if on.expiring_within is not None and expires is not None and code == OK:
            left = expires - at
            if left <= on.expiring_within:
                signs.append(
                    _sign(
                        "expiring_key_in_use",
                        key_id,
                        at,
                        f"key {key_id} expires in {_days(left)} and is still in use",
                        expires_at=expires.isoformat(),
                        seconds_left=int(left.total_seconds()),
                    )
                )

    def _watch(self, key_id: str, at: datetime, micros: int, on: _Watch) -> KeyWatch:
        watch = self._keys.get(key_id)
        if watch is not None:
            self._keys.move_to_end(key_id)
            return watch
        window = on.volume_window
        history = self._history(key_id, at - window)
        watch = self._keys[key_id] = KeyWatch.of(history, micros, at, window.total_seconds())
        if len(self._keys) > MAX_WATCHED:
            self._keys.popitem(last=False)
        return watch

    def _volume(
        self, key_id: str, watch: KeyWatch, row: DecisionRow, on: _Watch, signs: list[Sign]
    ) -> None:
        assert on.volume is not None
        window, minimum, factor = on.volume
        watch.roll(row[AT] // MINUTE * MINUTE, window)
        watch.count += 1
        at: datetime = row[MOMENT]
        established = watch.first_seen <= at - on.volume_window
        threshold = max(minimum, factor * watch.baseline)
        if established and not watch.spiked and watch.count >= threshold:
            watch.spiked = True
            signs.append(
                _sign(
                    "volume_spike",
                    key_id,
                    at,
                    f"key {key_id} made {watch.count} requests in a minute, against a "
                    f"baseline of {watch.baseline:.1f}",
                    requests=watch.count,
                    window_seconds=60,
                    baseline=round(watch.baseline, 2),
                    factor=factor,
                )
            )

    def _saturation(
        self,
        key_id: str,
        watch: KeyWatch,
        row: DecisionRow,
        held_for: timedelta,
        signs: list[Sign],
    ) -> None:
        code = row[CODE]
        if code != OK and code != RATE_LIMITED:
            return
        least = tightest(row[LIMITS])
        if code == OK and (least is None or least[1] != 0):
            return
        at: datetime = row[MOMENT]
        # A minute without being held at the limit ends a streak.
        if watch.saturated_last is None or at - watch.saturated_last > timedelta(minutes=1):
            watch.saturated_since = at
        watch.saturated_last = at
        since = watch.saturated_since or at
        held = at - since
        if held >= held_for:
            signs.append(
                _sign(
                    "rate_limit_saturated",
                    key_id,
                    at,
                    f"key {key_id} has been held at its rate limit for {_duration(held)}",
                    since=since.isoformat(),
                    held_seconds=int(held.total_seconds()),
                    limit=least[0] if least is not None else None,
                )
            )


def _sign(kind: str, key_id: str, at: datetime, message: str, **evidence: object) -> Sign:
    return Sign(kind, key_id, "key", at, message, evidence)


def _duration(length: timedelta) -> str:
    return format_duration(round(length.total_seconds()))


def _days(length: timedelta) -> str:
    days = length.total_seconds() / 86400
    return f"{days:.0f} days" if days >= 2 else _duration(length)
