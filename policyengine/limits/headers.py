"""The IETF RateLimit header fields (draft-ietf-httpapi-ratelimit-headers-07 and later).

``RateLimit-Policy`` lists every quota policy, ``RateLimit`` the service limits left,
both as Structured Field lists (RFC 9651) of sf-string items with integer parameters::

    RateLimit-Policy: "burst";q=100;w=1, "daily";q=10000;w=86400
    RateLimit: "burst";r=99;t=1, "daily";r=9876;t=40123

``t`` is the seconds until the bucket is full again or, when ``r`` is 0, until the next
request would be admitted; for usage credits, until they refill. A 429 adds
``Retry-After`` in whole seconds, rounded up so that a client retrying then is admitted.
"""

from __future__ import annotations

import math
from collections.abc import ItemsView, Iterable, Iterator, Mapping

from policyengine.limits.gcra import MICROS, Gcra, gcra_params
from policyengine.limits.outcome import LimitOutcome, LimitState
from policyengine.policy.model import RateLimit


def rate_limit_headers(outcome: LimitOutcome) -> dict[str, str]:
    """The response headers for ``outcome``; empty when the key has no limits.

    What depends only on a limit (its quoted name, its ``RateLimit-Policy`` item, its
    GCRA parameters) is worked out once per limit; per request, each limit's ``r`` and
    ``t`` are two integer divisions of its TAT.
    """
    limits = outcome.limits
    usage = outcome.usage
    if not limits and usage is None:
        return {}
    now = outcome.now
    policy: list[str] = []
    left: list[str] = []
    for limit, tat in zip(limits, outcome.tats, strict=True):
        item, prefix, (interval, capacity) = _parts(limit)
        policy.append(item)
        # As ``gcra(tat, now, params, False)``: what remains, and ``t`` (until the bucket
        # is full again, or, with nothing left, until the next admission), in whole
        # seconds rounded up.
        ahead = tat - now if tat > now else 0
        remaining = (capacity - ahead) // interval if ahead <= capacity else 0
        wait = ahead if remaining else max(ahead + interval - capacity, 0)
        left.append(f"{prefix}{remaining};t={min(-(-wait // MICROS), _MAX_INTEGER)}")
    if usage is not None:
        policy.append(policy_field((usage,)))
        left.append(limit_field((usage,)))
    headers = {"RateLimit-Policy": ", ".join(policy), "RateLimit": ", ".join(left)}
    if not outcome.allowed and outcome.retry_after is not None:
        headers["Retry-After"] = retry_after_field(outcome.retry_after)
    return headers


#: ``id(limit)`` → the limit, its ``RateLimit-Policy`` item, the start of its
#: ``RateLimit`` item (``"name";r=``) and its GCRA parameters. By identity, as in
#: :func:`~policyengine.limits.gcra.gcra_params`; the limit is held so its id is not reused.
_PARTS: dict[int, tuple[RateLimit, str, str, Gcra]] = {}
_MAX_PARTS = 4096


def _parts(limit: RateLimit) -> tuple[str, str, Gcra]:
    found = _PARTS.get(id(limit))
    if found is None or found[0] is not limit:
        name = sf_string(limit.name)
        rate = limit.rate
        item = f"{name};q={rate.limit};w={_seconds(rate.period)}"
        if len(_PARTS) >= _MAX_PARTS:
            _PARTS.clear()
        found = _PARTS[id(limit)] = (limit, item, f"{name};r=", gcra_params(rate))
    return found[1], found[2], found[3]


def policy_field(states: Iterable[LimitState]) -> str:
    """``"default";q=600;w=60``, one item per quota policy."""
    items = []
    for state in states:
        item = f"{sf_string(state.name)};q={state.quota}"
        if state.window is not None:
            item += f";w={_seconds(state.window)}"
        items.append(item)
    return ", ".join(items)


def limit_field(states: Iterable[LimitState]) -> str:
    """``"default";r=42;t=17``, one item per quota policy."""
    items = []
    for state in states:
        item = f"{sf_string(state.name)};r={state.remaining}"
        if state.reset is not None:
            item += f";t={_seconds(state.reset)}"
        items.append(item)
    return ", ".join(items)


def retry_after_field(seconds: float) -> str:
    """Whole seconds, rounded up, and at least 1: ``Retry-After: 0`` invites a hot loop."""
    return str(max(1, _seconds(seconds)))


def sf_string(text: str) -> str:
    """``text`` as a Structured Field string: quoted, with ``"`` and ``\\`` escaped.

    An sf-string holds printable ASCII only; any other character becomes ``?`` rather than
    break the header of every response (policy validation should keep names ASCII).
    """
    out = []
    for char in text:
        if char in '"\\':
            out.append("\\" + char)
        elif " " <= char <= "~":
            out.append(char)
        else:
            out.append("?")
    return '"' + "".join(out) + '"'


#: The largest Structured Field integer (15 digits).
_MAX_INTEGER = 999_999_999_999_999


def _seconds(value: float) -> int:
    # A Structured Field integer: non-negative here, and within its 15 digits.
    return min(max(math.ceil(value), 0), _MAX_INTEGER)


class RateLimitHeaders(Mapping[str, str]):
    """:func:`rate_limit_headers` of an outcome, worked out when first read: a caller that
    never sends them (an embedded check, say) never pays for formatting them."""

    __slots__ = ("_encoded", "_headers", "outcome")

    def __init__(self, outcome: LimitOutcome) -> None:
        #: The limiter's answer the headers describe.
        self.outcome = outcome
        self._headers: dict[str, str] | None = None
        self._encoded: tuple[tuple[bytes, bytes], ...] | None = None

    def _get(self) -> dict[str, str]:
        if self._headers is None:
            self._headers = rate_limit_headers(self.outcome)
        return self._headers

    def __getitem__(self, name: str) -> str:
        return self._get()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._get())

    def __len__(self) -> int:
        return len(self._get())

    def items(self) -> ItemsView[str, str]:
        # The dict's own view: the ``Mapping`` default would look every name up again.
        return self._get().items()

    def encoded(self) -> tuple[tuple[bytes, bytes], ...]:
        """The headers as an ASGI server sends them, lower-case names and values as bytes;
        worked out once."""
        if self._encoded is None:
            self._encoded = tuple(
                (name.lower().encode("latin-1"), value.encode("latin-1"))
                for name, value in self._get().items()
            )
        return self._encoded

    def __repr__(self) -> str:
        return f"RateLimitHeaders({self._get()!r})"
