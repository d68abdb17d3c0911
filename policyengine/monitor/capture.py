"""What a check hands the monitor, and how the writer makes a record of it.

The check pays for one tuple and one append; everything else — the client address behind
proxies, the route, the limits' headroom, the ids — is worked out here, in the writer
thread, from the request, the decision and the policy set that decided.
"""

from __future__ import annotations

import itertools
import secrets
from datetime import datetime
from typing import TYPE_CHECKING

from policyengine.decision import Decision
from policyengine.errors import InvalidValue
from policyengine.limits.headers import RateLimitHeaders
from policyengine.monitor.records import Credential, DecisionRecord, Headroom, Redactor
from policyengine.net import Proxies, client_address, format_ip
from policyengine.request import Request, new_request_id

if TYPE_CHECKING:
    from policyengine.policy.prepared import PreparedPolicy

#: ``(seconds the check took, when it was decided, request, decision, policy set)``.
Captured = tuple[float, datetime, Request, Decision, "PreparedPolicy"]


class Recorder:
    """Makes :class:`DecisionRecord` s of captured checks; used by the writer thread only.

    It runs once per decision, so it is written for speed: records are built positionally,
    and client addresses, which repeat, are formatted once."""

    def __init__(self, environment: str, proxies: Proxies, key_prefix: str) -> None:
        self._environment = environment
        self._proxies = proxies
        self._redact = Redactor(key_prefix)
        # Ids unique across processes: a random stem per recorder, then a counter.
        self._stem = f"dec_{secrets.token_hex(6)}"
        self._count = itertools.count()
        self._clients: dict[str, str | None] = {}

    def record(self, captured: Captured) -> DecisionRecord:
        latency, at, request, decision, prepared = captured
        redact = self._redact
        resource, action = request.resource, request.action
        method = request.method.upper() if request.method else None
        path = request.path
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
        key = decision.key
        rule = decision.rule
        location = rule.location if rule is not None else None
        headers = decision.headers
        return DecisionRecord(
            f"{self._stem}{next(self._count):016x}",
            at,
            request.request_id or new_request_id(),
            decision.code,
            decision.step,
            redact(decision.reason) or "",
            _credential(request.credential),
            key.id if key is not None else None,
            key.type if key is not None else None,
            key.environment if key is not None else None,
            key.expires_at if key is not None else None,
            method,
            path,
            resource,
            action,
            self._client(request),
            rule.name if rule is not None else None,
            f"{location.file}:{location.line}" if location is not None else None,
            redact(decision.error),
            latency,
            tuple(Headroom(*limit) for limit in headers.outcome.headroom())
            if isinstance(headers, RateLimitHeaders)
            else (),
            self._environment,
            prepared.digest,
        )

    def _client(self, request: Request) -> str | None:
        peer = request.ip
        if peer is None:
            return None
        proxied = self._proxies and request.headers
        if not proxied and peer in self._clients:
            return self._clients[peer]
        headers = request.headers
        if proxied:
            headers = {name.lower(): value for name, value in headers.items()}
        try:
            client: str | None = format_ip(client_address(peer, headers, self._proxies))
        except InvalidValue:
            client = None
        if not proxied:
            if len(self._clients) >= 65536:
                self._clients.clear()
            self._clients[peer] = client
        return client


def _credential(credential: str | None) -> Credential:
    if credential is None:
        return "none"
    return "token" if "." in credential else "key"
