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
from collections.abc import Iterable, Iterator, Mapping

from policyengine.limits.outcome import LimitOutcome, LimitState


def rate_limit_headers(outcome: LimitOutcome) -> dict[str, str]:
    """The response headers for ``outcome``; empty when the key has no limits."""
    states = outcome.states
    usage = outcome.usage
    if usage is not None:
        states = (*states, usage)
    if not states:
        return {}
    headers = {"RateLimit-Policy": policy_field(states), "RateLimit": limit_field(states)}
    if not outcome.allowed and outcome.retry_after is not None:
        headers["Retry-After"] = retry_after_field(outcome.retry_after)
    return headers


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


def _seconds(value: float) -> int:
    # A Structured Field integer: non-negative here, and within its 15 digits.
    return min(max(math.ceil(value), 0), 999_999_999_999_999)


class RateLimitHeaders(Mapping[str, str]):
    """:func:`rate_limit_headers` of an outcome, worked out when first read: a caller that
    never sends them (an embedded check, say) never pays for formatting them."""

    __slots__ = ("_headers", "outcome")

    def __init__(self, outcome: LimitOutcome) -> None:
        #: The limiter's answer the headers describe.
        self.outcome = outcome
        self._headers: dict[str, str] | None = None

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

    def __repr__(self) -> str:
        return f"RateLimitHeaders({self._get()!r})"
