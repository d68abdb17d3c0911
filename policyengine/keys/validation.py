"""What a key may be: each requested attribute parsed, then the whole checked against its type.

Every refusal is a :class:`KeyRequestError` that says what was wrong and what to do, and
comes before anything is written.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta
from typing import TypeVar

from policyengine.errors import InvalidValue, KeyRequestError
from policyengine.keys.format import KeyFormat
from policyengine.net import parse_network
from policyengine.policy.model import KeyType, PolicySet
from policyengine.policy.scopes import covered, parse_scope
from policyengine.record import ENVIRONMENTS, MAX_CREDITS, Environment, Usage
from policyengine.units import MAX_DURATION_SECONDS, Rate, parse_duration, parse_rate, shown

MAX_LABEL = 200
MAX_SCOPES = 100
MAX_ALLOWED_IPS = 256
MAX_METADATA_ENTRIES = 32
MAX_METADATA_VALUE = 512
MAX_DETAIL = 4096
LONGEST = timedelta(seconds=MAX_DURATION_SECONDS)
_FILTER_NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")
_METADATA_NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")
_LIMIT_NAME = re.compile(r"[A-Za-z0-9_-]{1,32}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
REFILLS = ("daily", "monthly", "never")
T = TypeVar("T")


def key_type(policies: PolicySet, name: object) -> KeyType:
    found = policies.key_types.get(name) if isinstance(name, str) else None
    if found is not None:
        return found
    known = sorted(policies.key_types)
    if not known:
        raise KeyRequestError("the policy set defines no key types, so no key can be created")
    close = difflib.get_close_matches(str(name), known, n=1, cutoff=0.7)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    raise KeyRequestError(
        f"unknown key type {name!r}{hint}; the policy set defines: {', '.join(known)}"
    )


def environment(kind: KeyType, value: object) -> Environment:
    if value not in ENVIRONMENTS:
        raise KeyRequestError(f"invalid environment {value!r}: use 'test' or 'live'")
    if value not in kind.environments:
        raise KeyRequestError(
            f"key type {kind.name!r} allows only {' and '.join(kind.environments)} keys, "
            f"not {value}"
        )
    return value


def label(value: object, key_format: KeyFormat) -> str:
    missing = "a key needs a label saying what it is for, such as 'nightly export'"
    return _short_text(value, "the label", missing, key_format)


def actor(value: object, key_format: KeyFormat) -> str:
    """Who makes a change, as events name them: ``cli:alice``, ``key:key_…``, a service."""
    missing = "actor must name who makes the change, such as 'billing-service'"
    return _short_text(value, "the actor", missing, key_format)


def _short_text(value: object, what: str, missing: str, key_format: KeyFormat) -> str:
    """One line of plain text, at most :data:`MAX_LABEL` characters, with no key in it."""
    if not isinstance(value, str) or not value.strip():
        raise KeyRequestError(missing)
    text = value.strip()
    if len(text) > MAX_LABEL:
        raise KeyRequestError(f"{what} is {len(text)} characters long; at most {MAX_LABEL}")
    _plain_text(what, text, key_format)
    return text


def expiry(kind: KeyType, expires_in: str | timedelta | None, now: datetime) -> datetime | None:
    """When a key made ``now`` expires; without ``expires_in``, at its type's maximum
    lifetime, or never if the type has none."""
    if expires_in is None:
        return None if kind.max_lifetime is None else now + timedelta(seconds=kind.max_lifetime)
    return now + duration(expires_in, "expires_in")


def duration(value: str | timedelta, what: str, *, allow_zero: bool = False) -> timedelta:
    """``"30d"`` or a ``timedelta``, longer than zero unless ``allow_zero``, and at most
    100 years."""
    if isinstance(value, timedelta):
        length = value
    else:
        length = timedelta(seconds=_parse(parse_duration, value, what))
    if length < timedelta(0) or (length == timedelta(0) and not allow_zero):
        raise KeyRequestError(f"{what} must be longer than zero")
    if length > LONGEST:
        raise KeyRequestError(f"{what} must be at most 100 years")
    return length


def label_filter(value: object) -> str | None:
    """What ``list(label=…)`` looks for: plain text, refused the same way in every store."""
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > MAX_LABEL:
        raise KeyRequestError(f"the label filter must be text of at most {MAX_LABEL} characters")
    if _CONTROL.search(value) or not _encodable(value):
        raise KeyRequestError("the label filter contains a control character or invalid text")
    return value


def name_filter(value: object, what: str) -> str | None:
    """A key type or environment to list by: a name, or ``None`` for any."""
    if value is None:
        return None
    if not isinstance(value, str) or not _FILTER_NAME.fullmatch(value):
        raise KeyRequestError(f"{what} must be a name such as 'read-only' or 'live'")
    return value


def scopes(kind: KeyType, values: Iterable[str] | None) -> tuple[str, ...]:
    if not kind.from_key:
        if values is not None:
            fixed = ", ".join(str(scope) for scope in kind.scopes or ())
            raise KeyRequestError(
                f"key type {kind.name!r} has fixed scopes ({fixed}); do not pass scopes, or "
                "use a type whose scopes come from the key"
            )
        return ()
    listed = isinstance(values, Iterable) and not isinstance(values, str | bytes)
    texts = list(values) if listed else []  # type: ignore[arg-type]
    if not texts:
        allowed = ", ".join(str(scope) for scope in kind.allowed_scopes)
        raise KeyRequestError(
            f"key type {kind.name!r} takes its scopes from the key: pass a list of scopes "
            f"within {allowed}"
        )
    parsed = [_parse(parse_scope, text, "scope") for text in texts]
    if len(parsed) > MAX_SCOPES:
        raise KeyRequestError(f"a key may have at most {MAX_SCOPES} scopes")
    for scope in parsed:
        if not covered(scope, kind.allowed_scopes):
            allowed = ", ".join(str(a) for a in kind.allowed_scopes) or "nothing"
            raise KeyRequestError(
                f"scope '{scope}' is outside what key type {kind.name!r} allows ({allowed})"
            )
    return tuple(dict.fromkeys(str(scope) for scope in parsed))


def allowed_ips(values: Iterable[str] | None) -> tuple[str, ...]:
    if values is None:
        return ()
    if isinstance(values, str | bytes) or not isinstance(values, Iterable):
        raise KeyRequestError("allowed_ips takes a list of CIDRs, such as ['203.0.113.0/24']")
    networks = [value.strip() if isinstance(value, str) else value for value in values]
    if len(networks) > MAX_ALLOWED_IPS:
        raise KeyRequestError(f"a key may list at most {MAX_ALLOWED_IPS} networks")
    for network in networks:
        _parse(parse_network, network, "allowed_ips")
    return tuple(dict.fromkeys(networks))


def rate_limits(
    rate_limit: str | Rate | None,
    named: Mapping[str, str | Rate] | None,
    base: Mapping[str, Rate] | None = None,
) -> dict[str, Rate]:
    """``base`` with the overrides applied; ``rate_limit`` is the limit named ``default``."""
    result = dict(base or {})
    if named is not None and not isinstance(named, Mapping):
        raise KeyRequestError(
            "rate_limits takes a mapping of names to rates, such as {'daily': '1000/day'}"
        )
    overrides = dict(named or {})
    if rate_limit is not None:
        if "default" in overrides:
            raise KeyRequestError(
                "pass the default limit once: rate_limit= or rate_limits['default']"
            )
        overrides["default"] = rate_limit
    for name, rate in overrides.items():
        if not isinstance(name, str) or not _LIMIT_NAME.fullmatch(name):
            raise KeyRequestError(
                f"invalid rate limit name {name!r}: use up to 32 letters, digits, '-' and '_'"
            )
        result[name] = rate if isinstance(rate, Rate) else _parse(parse_rate, rate, "rate limit")
    return result


def usage(value: Usage | None) -> Usage | None:
    if value is None:
        return None
    if not isinstance(value, Usage):
        raise KeyRequestError(
            "usage takes a Usage(credits, refill), such as Usage(10000, 'monthly')"
        )
    credits = value.credits
    if isinstance(credits, bool) or not isinstance(credits, int) or credits < 1:
        raise KeyRequestError(
            f"usage credits must be a whole number of at least 1, not {shown(credits)}"
        )
    if credits > MAX_CREDITS:
        raise KeyRequestError(f"usage credits must be at most {MAX_CREDITS:,}")
    if not isinstance(value.refill, str) or value.refill not in REFILLS:
        raise KeyRequestError(
            f"usage refill must be daily, monthly or never, not {shown(value.refill)}"
        )
    return value


def metadata(value: Mapping[str, str] | None, key_format: KeyFormat) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise KeyRequestError("metadata takes a mapping of names to strings")
    if len(value) > MAX_METADATA_ENTRIES:
        raise KeyRequestError(f"metadata may hold at most {MAX_METADATA_ENTRIES} entries")
    for name, text in value.items():
        if not isinstance(name, str) or not _METADATA_NAME.fullmatch(name):
            raise KeyRequestError(
                f"invalid metadata name {name!r}: use up to 64 letters, digits, '.', '-' and '_'"
            )
        if not isinstance(text, str):
            raise KeyRequestError(f"metadata {name!r} must be a string, not {type(text).__name__}")
        if len(text) > MAX_METADATA_VALUE:
            raise KeyRequestError(
                f"metadata {name!r} is longer than {MAX_METADATA_VALUE} characters"
            )
        _plain_text(f"metadata {name!r}", text, key_format)
    return dict(value)


def event_details(value: Mapping[str, str] | None) -> dict[str, str]:
    """Details for an event: names as metadata names, values any text, made printable
    (control characters and lone surrogates escaped) and cut at ``MAX_DETAIL``."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise KeyRequestError("details takes a mapping of names to strings")
    details = {}
    for name, text in value.items():
        if not isinstance(name, str) or not _METADATA_NAME.fullmatch(name) or name == "reason":
            raise KeyRequestError(f"invalid detail name {shown(name)}: use letters and digits")
        if not isinstance(text, str):
            raise KeyRequestError(f"detail {name!r} must be a string")
        printable = "".join(
            char if char.isprintable() and _encodable(char) else repr(char)[1:-1] for char in text
        )
        details[name] = printable if len(printable) <= MAX_DETAIL else printable[:MAX_DETAIL] + "…"
    return details


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: no store can keep it
        return False
    return True


def _plain_text(what: str, text: str, key_format: KeyFormat) -> None:
    if _CONTROL.search(text):
        raise KeyRequestError(f"{what} contains a control character")
    if not _encodable(text):
        raise KeyRequestError(f"{what} is not valid text (it holds a lone surrogate)")
    # Labels and metadata are shown and logged freely; a secret pasted into one would leak.
    if key_format.find_keys(text):
        raise KeyRequestError(f"{what} contains an API key; never put a secret there")


def _parse(parser: Callable[[str], T], text: object, what: str) -> T:
    """``parser(text)``, its :class:`InvalidValue` turned into the caller's refusal."""
    if not isinstance(text, str):
        raise KeyRequestError(f"{what} must be text, not {type(text).__name__}")
    try:
        return parser(text)
    except InvalidValue as error:
        raise KeyRequestError(str(error)) from None
