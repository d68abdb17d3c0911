"""The anomaly detectors: they read decision records as the writer writes them, never a
check, and report each sign of trouble as a :class:`~policyengine.monitor.alerts.Sign`.

Every kind of :mod:`policyengine.policy.alerts` is here, with the thresholds the policy
set gives it; a kind that is turned off is not looked at.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Mapping
from datetime import datetime, timedelta

from policyengine.decision import Code
from policyengine.keys.codec import to_micros
from policyengine.monitor.alerts import Sign, SubjectType
from policyengine.monitor.history import MINUTE, NO_NETWORK, KeyWatch, LoadHistory, Networks
from policyengine.monitor.records import DecisionRecord
from policyengine.policy.alerts import AlertSettings
from policyengine.units import format_duration

#: Denials that look like probing: credentials that are no key of ours, and asking for
#: what a key may not do. (Revoked keys and the wrong environment have kinds of their own;
#: rate limits are not probing.)
PROBING = frozenset(
    {
        Code.MISSING_CREDENTIAL,
        Code.MALFORMED_CREDENTIAL,
        Code.NOT_FOUND,
        Code.TOKEN_INVALID,
        Code.INSUFFICIENT_SCOPE,
        Code.DENIED_BY_POLICY,
        Code.IP_NOT_ALLOWED,
    }
)
#: Keys and addresses watched at once; past it the longest unseen are forgotten.
MAX_WATCHED = 100_000
#: The baseline window when volume spikes are not watched (networks are, all the same).
_WINDOW = 3600.0

Settings = Mapping[str, AlertSettings]


class Detectors:
    def __init__(self, history: LoadHistory) -> None:
        self._history = history
        self._network = Networks()
        self._keys: OrderedDict[str, KeyWatch] = OrderedDict()
        self._denials: OrderedDict[str, deque[tuple[float, str]]] = OrderedDict()
        #: ``(key id, network) → (first, last use)`` since the writer last took them.
        self.networks: dict[tuple[str, str], tuple[datetime, datetime]] = {}

    def observe(self, records: list[DecisionRecord], settings: Settings) -> list[Sign]:
        signs: list[Sign] = []
        on = {kind: s for kind, s in settings.items() if s.enabled}
        for record in records:
            if record.code in PROBING and "denial_burst" in on:
                self._denial(record, on["denial_burst"], signs)
            if record.key_id is not None:
                self._key(record.key_id, record, on, signs)
        return signs

    def take_networks(self) -> dict[tuple[str, str], tuple[datetime, datetime]]:
        taken, self.networks = self.networks, {}
        return taken

    def _key(self, key_id: str, record: DecisionRecord, on: Settings, signs: list[Sign]) -> None:
        at = record.at
        watch = self._watch(key_id, at, on)
        network = self._network(record.client, on.get("new_network"))
        if "new_network" in on and network not in watch.networks and network != NO_NETWORK:
            known = sorted(n for n in watch.networks if n != NO_NETWORK)
            if known:
                signs.append(
                    _sign(
                        "new_network",
                        key_id,
                        at,
                        f"key {key_id} was used from {network}, a network it had not used",
                        network=network,
                        client=record.client,
                        known_networks=known[:20],
                    )
                )
        watch.networks[network] = at
        first = self.networks.get((key_id, network), (at, at))[0]
        self.networks[(key_id, network)] = (min(first, at), at)
        if "dormant_key" in on and watch.last_seen is not None:
            idle = at - watch.last_seen
            if idle >= timedelta(seconds=on["dormant_key"]["after"]):
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
        watch.last_seen = at if watch.last_seen is None else max(watch.last_seen, at)
        if "volume_spike" in on:
            self._volume(key_id, watch, record, on["volume_spike"], signs)
        if "rate_limit_saturated" in on:
            self._saturation(key_id, watch, record, on["rate_limit_saturated"], signs)
        if record.code is Code.WRONG_ENVIRONMENT and "wrong_environment" in on:
            signs.append(
                _sign(
                    "wrong_environment",
                    key_id,
                    at,
                    f"{record.key_environment} key {key_id} was sent to a "
                    f"{record.environment} service",
                    key_environment=record.key_environment,
                    service_environment=record.environment,
                    client=record.client,
                )
            )
        if record.code is Code.REVOKED and "revoked_key_used" in on:
            signs.append(
                _sign(
                    "revoked_key_used",
                    key_id,
                    at,
                    f"revoked key {key_id} is still being tried",
                    client=record.client,
                    path=record.path,
                )
            )
        credits = record.credits
        if (
            "credits_low" in on
            and credits is not None
            and credits.quota
            and credits.remaining / credits.quota <= on["credits_low"]["below"]
        ):
            signs.append(
                _sign(
                    "credits_low",
                    key_id,
                    at,
                    f"key {key_id} has {credits.remaining} of {credits.quota} credits left",
                    remaining=credits.remaining,
                    quota=credits.quota,
                )
            )
        expires = record.key_expires_at
        if "expiring_key_in_use" in on and expires is not None and record.allowed:
            left = expires - at
            if left <= timedelta(seconds=on["expiring_key_in_use"]["within"]):
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

    def _watch(self, key_id: str, at: datetime, on: Settings) -> KeyWatch:
        watch = self._keys.get(key_id)
        if watch is not None:
            self._keys.move_to_end(key_id)
            return watch
        window = on["volume_spike"]["baseline"] if "volume_spike" in on else _WINDOW
        history = self._history(key_id, at - timedelta(seconds=window))
        watch = self._keys[key_id] = KeyWatch.of(history, to_micros(at), at, window)
        if len(self._keys) > MAX_WATCHED:
            self._keys.popitem(last=False)
        return watch

    def _volume(
        self,
        key_id: str,
        watch: KeyWatch,
        record: DecisionRecord,
        settings: AlertSettings,
        signs: list[Sign],
    ) -> None:
        window = settings["baseline"]
        watch.roll(to_micros(record.at) // MINUTE * MINUTE, window)
        watch.count += 1
        established = watch.first_seen <= record.at - timedelta(seconds=window)
        threshold = max(settings["minimum"], settings["factor"] * watch.baseline)
        if established and not watch.spiked and watch.count >= threshold:
            watch.spiked = True
            signs.append(
                _sign(
                    "volume_spike",
                    key_id,
                    record.at,
                    f"key {key_id} made {watch.count} requests in a minute, against a "
                    f"baseline of {watch.baseline:.1f}",
                    requests=watch.count,
                    window_seconds=60,
                    baseline=round(watch.baseline, 2),
                    factor=settings["factor"],
                )
            )

    def _saturation(
        self,
        key_id: str,
        watch: KeyWatch,
        record: DecisionRecord,
        settings: AlertSettings,
        signs: list[Sign],
    ) -> None:
        tightest = record.headroom
        held_at_limit = record.code is Code.RATE_LIMITED or (
            record.allowed and tightest is not None and tightest.remaining == 0
        )
        if not held_at_limit:
            return
        at = record.at
        # A minute without being held at the limit ends a streak.
        if watch.saturated_last is None or at - watch.saturated_last > timedelta(minutes=1):
            watch.saturated_since = at
        watch.saturated_last = at
        since = watch.saturated_since or at
        held = at - since
        if held >= timedelta(seconds=settings["for"]):
            signs.append(
                _sign(
                    "rate_limit_saturated",
                    key_id,
                    at,
                    f"key {key_id} has been held at its rate limit for {_duration(held)}",
                    since=since.isoformat(),
                    held_seconds=int(held.total_seconds()),
                    limit=tightest.name if tightest is not None else None,
                )
            )

    def _denial(self, record: DecisionRecord, settings: AlertSettings, signs: list[Sign]) -> None:
        subject_type: SubjectType = "key" if record.key_id is not None else "address"
        subject = record.key_id or record.client
        if subject is None:
            return
        count, within = int(settings["denials"]), settings["within"]
        window = self._denials.get(subject)
        if window is None or window.maxlen != count:
            window = self._denials[subject] = deque(maxlen=count)
            if len(self._denials) > MAX_WATCHED:
                self._denials.popitem(last=False)
        else:
            self._denials.move_to_end(subject)
        now = record.at.timestamp()
        window.append((now, record.code.value))
        span = now - window[0][0]
        if len(window) == count and span <= within:
            codes: dict[str, int] = {}
            for _, code in window:
                codes[code] = codes.get(code, 0) + 1
            signs.append(
                Sign(
                    "denial_burst",
                    subject,
                    subject_type,
                    record.at,
                    f"{count} denials within {_duration(timedelta(seconds=span))} "
                    f"for {subject_type} {subject}",
                    {
                        "denials": count,
                        "span_seconds": round(span, 3),
                        "window_seconds": within,
                        "codes": codes,
                    },
                )
            )


def _sign(kind: str, key_id: str, at: datetime, message: str, **evidence: object) -> Sign:
    return Sign(kind, key_id, "key", at, message, evidence)


def _duration(length: timedelta) -> str:
    return format_duration(round(length.total_seconds()))


def _days(length: timedelta) -> str:
    days = length.total_seconds() / 86400
    return f"{days:.0f} days" if days >= 2 else _duration(length)
