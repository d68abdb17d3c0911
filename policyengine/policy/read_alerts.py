"""Reading the ``alerts:`` of a policy file: which anomalies to watch for, and how closely.

Every kind has defaults, so a policy set without ``alerts:`` watches for all of them; a
file changes a kind's thresholds, its severity, how long it stays quiet before it is
over, or turns it off.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import yaml

from policyengine.language.checker import suggest
from policyengine.policy.alerts import ALERT_KINDS, SEVERITIES, AlertSettings, ParamKind
from policyengine.policy.source import FLOAT, INT, Reader
from policyengine.units import format_duration, parse_duration

if TYPE_CHECKING:
    from policyengine.policy.loader import Collected

#: Keys every kind takes, besides its own thresholds.
COMMON_KEYS = ("enabled", "severity", "quiet")
_PERCENT = re.compile(r"(\d+(?:\.\d+)?)\s*%")


@dataclass(frozen=True, slots=True)
class _Bounds:
    minimum: float
    maximum: float | None = None


def read_alerts(r: Reader, node: yaml.Node, pending: Collected) -> None:
    for kind, (kind_node, settings_node) in (r.mapping(node, "alerts") or {}).items():
        if kind not in ALERT_KINDS:
            known = list(ALERT_KINDS)
            r.error(
                kind_node,
                f"unknown alert '{kind}'"
                + (suggest(kind, known) or f"; expected one of: {', '.join(known)}"),
            )
            continue
        if kind in pending.alerts:
            first = pending.alerts[kind].location
            r.error(kind_node, f"duplicate alert '{kind}' (first at {first})")
            continue
        settings = _read_kind(r, kind, kind_node, settings_node)
        if settings is not None:
            pending.alerts[kind] = settings


def _read_kind(r: Reader, kind: str, kind_node: yaml.Node, node: yaml.Node) -> AlertSettings | None:
    spec = ALERT_KINDS[kind]
    what = f"alert '{kind}'"
    fields = r.mapping(node, what, (*COMMON_KEYS, *spec.params))
    if fields is None:
        return None
    ok = True
    defaults = spec.settings()
    enabled = defaults.enabled
    if "enabled" in fields:
        chosen = r.boolean(fields["enabled"][1], "enabled")
        ok = ok and chosen is not None
        enabled = bool(chosen) if chosen is not None else enabled
    severity = defaults.severity
    if "severity" in fields:
        chosen_severity = r.choice(fields["severity"][1], "severity", SEVERITIES)
        ok = ok and chosen_severity is not None
        severity = chosen_severity or severity  # type: ignore[assignment]
    quiet = defaults.quiet
    if "quiet" in fields:
        seconds = _duration(r, fields["quiet"][1], "quiet", _Bounds(60))
        ok = ok and seconds is not None
        quiet = seconds if seconds is not None else quiet
    params = dict(defaults.params)
    for name, param in spec.params.items():
        if name in fields:
            value = _READ[param.kind](
                r, fields[name][1], name, _Bounds(param.minimum, param.maximum)
            )
            ok = ok and value is not None
            if value is not None:
                params[name] = value
    if not ok:
        return None
    return AlertSettings(kind, enabled, severity, quiet, params, r.location(kind_node))


def _in_bounds(
    r: Reader, node: yaml.Node, what: str, value: float, bounds: _Bounds
) -> float | None:
    if value < bounds.minimum or (bounds.maximum is not None and value > bounds.maximum):
        upper = f" and at most {bounds.maximum:g}" if bounds.maximum is not None else ""
        r.error(node, f"{what} must be at least {bounds.minimum:g}{upper}, not {value:g}")
        return None
    return value


def _count(r: Reader, node: yaml.Node, what: str, bounds: _Bounds) -> float | None:
    value = r.integer(node, what)
    return None if value is None else _in_bounds(r, node, what, value, bounds)


def _number(r: Reader, node: yaml.Node, what: str, bounds: _Bounds) -> float | None:
    if not isinstance(node, yaml.ScalarNode) or node.tag not in (INT, FLOAT):
        r.error(node, f"{what} must be a number, not {r.kind(node)}")
        return None
    return _in_bounds(r, node, what, float(yaml.safe_load(node.value)), bounds)


def _fraction(r: Reader, node: yaml.Node, what: str, bounds: _Bounds) -> float | None:
    if isinstance(node, yaml.ScalarNode) and node.tag not in (INT, FLOAT):
        match = _PERCENT.fullmatch(node.value.strip())
        if match is None:
            r.error(node, f"{what} must be a percentage such as 10% or a fraction such as 0.1")
            return None
        value = float(match.group(1)) / 100
    else:
        number = _number(r, node, what, _Bounds(float("-inf")))
        if number is None:
            return None
        value = number
    if not 0 < value < 1:
        r.error(node, f"{what} must be more than 0% and less than 100%, not {value:.0%}")
        return None
    return value


def _duration(r: Reader, node: yaml.Node, what: str, bounds: _Bounds) -> float | None:
    seconds = r.parsed(node, what, parse_duration)
    if seconds is None:
        return None
    if seconds < bounds.minimum:
        r.error(node, f"{what} must be at least {format_duration(bounds.minimum)} long")
        return None
    return seconds


_READ: dict[ParamKind, Callable[[Reader, yaml.Node, str, _Bounds], float | None]] = {
    "count": _count,
    "number": _number,
    "fraction": _fraction,
    "duration": _duration,
}
