"""Decision records: what the monitor keeps of each check.

A record holds what decided and where — the step, the code, the reason, the rule with its
file and line, the limits' headroom — and the facts of the request, so that the
step-by-step explanation can be shown again later (:mod:`policyengine.monitor.explain`).
It never holds a credential, a header, or a hash of either.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from policyengine.decision import STATUS, Code, Step

Credential = Literal["key", "token", "none"]
CREDENTIALS: tuple[Credential, ...] = ("key", "token", "none")

#: The longest path, reason or error a record keeps; anything longer is cut.
MAX_TEXT = 2048

#: A JWT: three base64url parts, the first a JSON header (``{"`` is ``eyJ``).
_JWT = re.compile(r"eyJ[0-9A-Za-z_-]+\.[0-9A-Za-z_-]*\.[0-9A-Za-z_-]*")


@dataclass(frozen=True, slots=True)
class Headroom:
    """One limit after the request: ``remaining`` of ``quota`` (``usage`` for credits)."""

    name: str
    remaining: int
    quota: int

    @property
    def fraction(self) -> float:
        return self.remaining / self.quota if self.quota else 0.0


@dataclass(frozen=True, slots=True)
class DecisionRecord:
    """One check, as the monitor keeps it. ``event`` is always ``"decision"``, so that a
    record and a lifecycle event can be told apart in one activity list."""

    id: str
    at: datetime
    request_id: str
    code: Code
    #: The step that decided (one of :data:`policyengine.decision.STEPS`), or ``done``.
    step: str
    reason: str
    #: What was presented: an API key, a token, or nothing.
    credential: Credential
    key_id: str | None = None
    key_type: str | None = None
    key_environment: str | None = None
    #: When the key expires (``None``: never, or no key), as the check found it.
    key_expires_at: datetime | None = None
    method: str | None = None
    path: str | None = None
    #: ``events`` or ``events/evt_42``.
    resource: str | None = None
    action: str | None = None
    #: The client's address (behind trusted proxies, the forwarded one).
    client: str | None = None
    #: The rule or step that decided, and where the rule is written (``file:line``).
    rule: str | None = None
    rule_location: str | None = None
    #: For ``UNAVAILABLE``: what failed.
    error: str | None = None
    #: Seconds the check took.
    latency: float = 0.0
    #: Every limit after the request, usage credits last.
    limits: tuple[Headroom, ...] = ()
    #: The engine's environment, and the digest of the policy set that decided.
    environment: str = "live"
    policy: str = ""

    @property
    def event(self) -> Literal["decision"]:
        return "decision"

    @property
    def allowed(self) -> bool:
        return self.code is Code.OK

    @property
    def status(self) -> int:
        return STATUS[self.code]

    @property
    def headroom(self) -> Headroom | None:
        """The tightest rate limit (credits aside): the least fraction remaining."""
        rates = [h for h in self.limits if h.name != "usage"]
        return min(rates, key=lambda h: h.fraction) if rates else None

    @property
    def credits(self) -> Headroom | None:
        return next((h for h in self.limits if h.name == "usage"), None)

    @property
    def trace(self) -> tuple[Step, ...]:
        """The steps the check took, as ``check(explain=True)`` lists them, rebuilt from the
        record: every step before the one that decided passed, and that one says why.
        Each rule that passed is not kept: the rules show when one denied, and an allowed
        request names, at its scope step, the allow rule or key type that let it in."""
        return _trace(self)

    def as_dict(self) -> dict[str, object]:
        """The record as JSON values, for the command line and the HTTP API."""
        return {
            "event": self.event,
            "id": self.id,
            "at": self.at.isoformat(),
            "request_id": self.request_id,
            "allowed": self.allowed,
            "code": self.code.value,
            "status": self.status,
            "step": self.step,
            "reason": self.reason,
            "credential": self.credential,
            "key_id": self.key_id,
            "key_type": self.key_type,
            "key_environment": self.key_environment,
            "key_expires_at": self.key_expires_at.isoformat() if self.key_expires_at else None,
            "method": self.method,
            "path": self.path,
            "resource": self.resource,
            "action": self.action,
            "client": self.client,
            "rule": self.rule,
            "rule_location": self.rule_location,
            "error": self.error,
            "latency_us": round(self.latency * 1e6),
            "limits": [
                {"name": h.name, "remaining": h.remaining, "quota": h.quota} for h in self.limits
            ],
            "environment": self.environment,
            "policy": self.policy,
            "trace": [
                {"step": step.step, "passed": step.passed, "detail": step.detail}
                for step in self.trace
            ],
        }


#: The steps after the key is found, in the order they run.
_JUDGED = ("state", "environment", "ip", "scope", "rules", "usage", "rate")


def _trace(record: DecisionRecord) -> tuple[Step, ...]:
    if record.key_id is None:
        # Decided before a key was found: the decision is its own explanation.
        return (Step(record.step, False, _failed(record)),)
    if record.step != "done" and record.step not in _JUDGED:
        return (Step(record.step, False, _failed(record)),)
    steps = []
    last = len(_JUDGED) if record.step == "done" else _JUDGED.index(record.step)
    for step in _JUDGED[:last]:
        detail = _passed(record, step)
        if detail is not None:
            steps.append(Step(step, True, detail))
    if record.step != "done":
        steps.append(Step(record.step, False, _failed(record)))
    return tuple(steps)


def _passed(record: DecisionRecord, step: str) -> str | None:
    """What a step that passed found, or ``None`` where the check lists no step: rules that
    passed are not kept, and credits are shown with the rate limits, as the check does."""
    if step == "state":
        return "the key is usable"
    if step == "environment":
        return f"{record.key_environment} key in the {record.environment} environment"
    if step == "ip":
        return f"{record.client} is allowed" if record.client else "no client address to check"
    if step == "scope":
        granted = f"{record.resource}:{record.action} is granted"
        if record.rule is None:
            return granted
        where = f" ({record.rule_location})" if record.rule_location else ""
        return f"{granted} by {record.rule}{where}"
    if step != "rate" or not record.limits:
        return None
    left = ", ".join(f"{h.remaining} of {h.quota} left in '{h.name}'" for h in record.limits)
    return f"within limits: {left}"


def _failed(record: DecisionRecord) -> str:
    detail = record.reason
    if record.step == "rules" and record.rule is not None:
        where = f" ({record.rule_location})" if record.rule_location else ""
        detail = f"deny rule {record.rule}{where} matched: {record.reason}"
    if record.error:
        detail = f"{detail} ({record.error})"
    return detail


def storable(text: str) -> str:
    """``text`` as every store can keep it: a lone surrogate, which no UTF-8 encoder takes
    and only an embedding caller can pass, becomes ``?``."""
    return text if text.isascii() else text.encode("utf-8", "replace").decode("utf-8")


class Redactor:
    """Cuts anything that looks like an API key or a JWT out of text bound for storage: a
    path, a reason or an error may hold one that a caller put in the wrong place."""

    def __init__(self, key_prefix: str) -> None:
        self._key = re.compile(rf"{re.escape(key_prefix)}_(?:live|test)_[0-9A-Za-z]{{8,}}")

    def __call__(self, text: str | None) -> str | None:
        if text is None:
            return None
        if len(text) > MAX_TEXT:
            text = text[:MAX_TEXT] + "…"
        text = storable(text)
        if "_" in text:
            text = self._key.sub("[redacted key]", text)
        if "eyJ" in text:
            text = _JWT.sub("[redacted token]", text)
        return text
