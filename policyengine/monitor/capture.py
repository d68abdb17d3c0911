"""What a check hands the monitor, and how the writer makes a row of it.

The check pays for one flat tuple and one append. The tuple holds plain values (strings,
numbers, objects that live as long as the policy set or the key) and the limiter's
answer, never the request or the decision: whatever a queued tuple keeps alive, Python's
garbage collector walks again and again while it waits (a request holds all its
headers), and that walk, not the append, would be the cost of recording. Everything else
— the client behind proxies, the route, the limits' headroom, the ids — is worked out in
the writer thread, which makes a row of each (:mod:`policyengine.monitor.rows`).
"""

from __future__ import annotations

import itertools
import secrets
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from policyengine.decision import Code, Decision
from policyengine.errors import InvalidValue
from policyengine.keys.codec import to_micros
from policyengine.limits.headers import RateLimitHeaders
from policyengine.monitor.records import Redactor, storable
from policyengine.monitor.rows import DecisionRow, limits_text
from policyengine.monitor.stream import Stream
from policyengine.net import Proxies, client_address, format_ip
from policyengine.request import Request, new_request_id

if TYPE_CHECKING:
    from policyengine.policy.prepared import PreparedPolicy

#: Each code's value, looked up for a fraction of the enum property's cost.
_VALUES = {code: code.value for code in Code}

#: What a check calls: ``(perf_counter() at its start, when it decided in seconds since
#: the epoch, request, decision, policy set)``. The writer makes the time a datetime: a
#: check that made one would wait for it.
RecordDecision = Callable[[float, float, Request, Decision, "PreparedPolicy"], None]

#: One captured check: latency, time (seconds since the epoch), credential kind, method,
#: path, resource, action, peer, headers (behind proxies only), request id, code, step,
#: reason, rule name, rule location, key, error, policy set, and the limiter's answer.
Captured = tuple[Any, ...]


def recorder(stream: Stream, proxied: bool) -> RecordDecision:
    """The hot path's one call: a closure over locals, the cheapest call Python offers."""
    queue, capacity, drop, clock = stream.queue, stream.capacity, stream.drop, time.perf_counter
    limited = RateLimitHeaders

    def record(
        started: float,
        at: float,
        request: Request,
        decision: Decision,
        prepared: PreparedPolicy,
    ) -> None:
        if len(queue) >= capacity:
            drop()
            return
        credential = request.credential
        rule = decision.rule
        headers = decision.headers
        queue.append(
            (
                clock() - started,
                at,
                "none" if credential is None else "token" if "." in credential else "key",
                request.method,
                request.path,
                request.resource,
                request.action,
                request.ip,
                request.headers if proxied else None,
                request.request_id,
                decision.code,
                decision.step,
                decision.reason,
                None if rule is None else rule.name,
                None if rule is None else rule.location,
                decision.key,
                decision.error,
                prepared,
                headers.outcome if type(headers) is limited else None,
            )
        )

    return record


class Recorder:
    """Makes :data:`~policyengine.monitor.rows.DecisionRow` s of captured checks; used by
    the writer thread only.

    It runs once per decision, so it is written for speed: a row is one tuple display,
    and client addresses, which repeat, are formatted once."""

    def __init__(self, environment: str, proxies: Proxies, key_prefix: str) -> None:
        self._environment = environment
        self._proxies = proxies
        self._redact = Redactor(key_prefix)
        # Ids unique across processes: a random stem per recorder, then a counter.
        self._stem = f"dec_{secrets.token_hex(6)}"
        self._count = itertools.count()
        self._clients: dict[str, str | None] = {}
        self._expiries: dict[datetime, int] = {}

    def row(self, captured: Captured) -> DecisionRow:
        (
            latency, seconds, credential, method, path, resource, action, peer, headers,
            request_id, code, step, reason, rule, location, key, error, prepared, outcome,
        ) = captured  # fmt: skip
        at = datetime.fromtimestamp(seconds, UTC)
        redact = self._redact
        method = storable(method.upper()) if method else None
        if path is not None:
            path = redact(path.partition("?")[0])
            if (resource is None or action is None) and method is not None:
                match = prepared.route(method, path or "")
                if match is not None:
                    route, instance = match.route, match.instance
                    resource = f"{route.resource}/{instance}" if instance else route.resource
                    action = route.action
        elif resource is not None:
            resource = redact(resource)
        # What the caller named is kept as a store can hold it (policies name only text).
        if resource is not None:
            resource = storable(resource)
        if action is not None:
            action = storable(action)
        limits = () if outcome is None else outcome.headroom()
        if key is None:
            key_id = key_type = key_environment = expires = expires_us = None
        else:
            key_id, key_type, key_environment = key.id, key.type, key.environment
            expires = key.expires_at
            expires_us = None if expires is None else self._micros(expires)
        return (
            f"{self._stem}{next(self._count):016x}",
            to_micros(at),
            storable(request_id) if request_id else new_request_id(),
            _VALUES[code],
            step,
            redact(reason) or "",
            credential,
            key_id,
            key_type,
            key_environment,
            expires_us,
            method,
            path,
            resource,
            action,
            self._client(peer, headers),
            rule,
            f"{location.file}:{location.line}" if location is not None else None,
            redact(error),
            round(latency * 1e6),
            limits_text(limits),
            self._environment,
            prepared.digest,
            at,
            expires,
            latency,
            limits,
        )

    def _micros(self, expires: datetime) -> int:
        """A key's expiry in µs: the same few keys expire at the same moments."""
        found = self._expiries.get(expires)
        if found is None:
            if len(self._expiries) >= 65536:
                self._expiries.clear()
            found = self._expiries[expires] = to_micros(expires)
        return found

    def _client(self, peer: str | None, headers: Mapping[str, str] | None) -> str | None:
        if peer is None:
            return None
        if not headers and peer in self._clients:
            return self._clients[peer]
        folded = {name.lower(): value for name, value in headers.items()} if headers else {}
        try:
            client: str | None = format_ip(client_address(peer, folded, self._proxies))
        except InvalidValue:
            client = None
        if not headers:
            if len(self._clients) >= 65536:
                self._clients.clear()
            self._clients[peer] = client
        return client
