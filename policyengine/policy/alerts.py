"""The kinds of anomaly the monitor watches for, their thresholds and their defaults.

The policy files may change any of these in an ``alerts:`` section; the monitor's
detectors read the settings in force. One table, here, is what both the reader and the
policy reference are checked against.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal

from policyengine.errors import Location

Severity = Literal["info", "warning", "critical"]
SEVERITIES: tuple[Severity, ...] = ("info", "warning", "critical")
#: How a threshold is written: a whole number, a number, a fraction (``10%`` or ``0.1``),
#: or a duration (``5m``), which is kept in seconds.
ParamKind = Literal["count", "number", "fraction", "duration"]

#: How long an alert stays open without a new sign of it, unless a kind says otherwise.
DEFAULT_QUIET = 3600.0


@dataclass(frozen=True, slots=True)
class Param:
    kind: ParamKind
    default: float
    minimum: float
    maximum: float | None = None

    def spell(self, value: float) -> str:
        """``value`` as a policy file writes it: ``20``, ``2.5``, ``10%``, ``30d``."""
        if self.kind == "fraction":
            return f"{value * 100:g}%"
        if self.kind == "duration":
            for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
                if value >= size and value % size == 0:
                    return f"{value // size:.0f}{unit}"
            return f"{value:g}s"
        return f"{value:g}"


@dataclass(frozen=True, slots=True)
class AlertKind:
    name: str
    #: What it means, in a sentence (the policy reference shows it).
    summary: str
    severity: Severity
    params: Mapping[str, Param] = field(default_factory=dict)

    def settings(self) -> AlertSettings:
        """The settings of a policy set that says nothing about this kind."""
        defaults = {name: param.default for name, param in self.params.items()}
        return AlertSettings(self.name, True, self.severity, DEFAULT_QUIET, defaults)


@dataclass(frozen=True, slots=True)
class AlertSettings:
    """A kind of alert as the policy set has it: on or off, how severe, its thresholds."""

    kind: str
    enabled: bool
    severity: Severity
    #: Seconds without a new sign after which an open alert is over.
    quiet: float
    params: Mapping[str, float]
    #: Where the policy files set it; ``None`` for the defaults.
    location: Location | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "params", MappingProxyType(dict(self.params)))

    def __getitem__(self, name: str) -> float:
        return self.params[name]


_DAY = 86400.0
ALERT_KINDS: Mapping[str, AlertKind] = MappingProxyType(
    {
        kind.name: kind
        for kind in (
            AlertKind(
                "new_network",
                "a key is used from a network it has never been used from",
                "warning",
                {
                    "ipv4_prefix": Param("count", 24, 8, 32),
                    "ipv6_prefix": Param("count", 48, 16, 128),
                },
            ),
            AlertKind(
                "volume_spike",
                "a key makes far more requests in a minute than its own moving baseline",
                "warning",
                {
                    "factor": Param("number", 10, 1.5),
                    "minimum": Param("count", 100, 1),
                    "baseline": Param("duration", 3600, 120),
                },
            ),
            AlertKind(
                "denial_burst",
                "many denials in a short time for one key, or for one address without a "
                "valid key: probing with unknown keys, bad checksums or missing scopes",
                "warning",
                {"denials": Param("count", 20, 2), "within": Param("duration", 60, 1)},
            ),
            AlertKind(
                "dormant_key",
                "a key is used again after a long time unused",
                "warning",
                {"after": Param("duration", 30 * _DAY, 3600)},
            ),
            AlertKind(
                "wrong_environment",
                "a key is sent to a service of the other environment, such as a test key "
                "to a live service",
                "warning",
            ),
            AlertKind(
                "revoked_key_used",
                "a revoked key is still being tried",
                "critical",
            ),
            AlertKind(
                "rate_limit_saturated",
                "a key is held at its rate limit for a sustained time",
                "info",
                {"for": Param("duration", 300, 60)},
            ),
            AlertKind(
                "credits_low",
                "a key's usage credits are running low",
                "info",
                {"below": Param("fraction", 0.1, 0.0, 1.0)},
            ),
            AlertKind(
                "expiring_key_in_use",
                "a key close to its expiry is still in use",
                "info",
                {"within": Param("duration", 7 * _DAY, 3600)},
            ),
        )
    }
)


def default_alerts() -> Mapping[str, AlertSettings]:
    """Every kind, as it is when no policy file changes it."""
    return MappingProxyType({name: kind.settings() for name, kind in ALERT_KINDS.items()})
