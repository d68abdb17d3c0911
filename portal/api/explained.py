"""Explanations from the engine's two sources: a decision record that monitoring kept (a
past call), and a decision the engine has just made in a dry run (a simulated call).

Policy files are named relative to the policies' parent folder (``policies/rules.yaml``),
never by the server's absolute path.
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

from policyengine.decision import Decision, Step
from policyengine.errors import Location
from policyengine.limits.headers import RateLimitHeaders
from policyengine.monitor.records import DecisionRecord
from portal.models.decisions import (
    ExplainedKey,
    ExplainedLimit,
    ExplainedRequest,
    ExplainedRule,
    Explanation,
)
from portal.models.monitor import TraceStep


def shown_file(file: str, directory: Path | None) -> str:
    """``file`` relative to the parent of the policies' folder, or its name alone."""
    path = Path(file)
    if directory is not None:
        try:
            return path.resolve().relative_to(directory.resolve().parent).as_posix()
        except ValueError:
            pass
    return path.name


#: A rule's place as the engine writes it in a step's detail: ``(<file>:<line>)``.
_PLACE = re.compile(r"\(([^()]+):(\d+)\)")


def shown_places(text: str, directory: Path | None) -> str:
    """``text`` with every policy file it names (any rule's, not only the deciding one's)
    named as :func:`shown_file` names it."""
    return _PLACE.sub(lambda m: f"({shown_file(m[1], directory)}:{m[2]})", text)


def shown_location(location: str | None, directory: Path | None) -> str | None:
    """A ``<file>:<line>`` location with its file named as :func:`shown_file` names it."""
    if not location:
        return location
    file, _, line = location.rpartition(":")
    if not line.isdigit():
        return shown_file(location, directory)
    return f"{shown_file(file, directory)}:{line}"


def _rule(
    name: str | None, file: str | None, line: int | None, directory: Path | None
) -> ExplainedRule | None:
    if name is None:
        return None
    return ExplainedRule(name=name, file=shown_file(file, directory) if file else None, line=line)


def _steps(steps: tuple[Step, ...], directory: Path | None) -> list[TraceStep]:
    """The steps, with each policy file named as :func:`shown_file` names it."""
    return [
        TraceStep(step=s.step, passed=s.passed, detail=shown_places(s.detail, directory))
        for s in steps
    ]


def from_record(record: DecisionRecord, directory: Path | None) -> Explanation:
    """A past call, as monitoring recorded it."""
    file = line = None
    if record.rule_location:
        where, _, number = record.rule_location.rpartition(":")
        file, line = (where, int(number)) if number.isdigit() else (record.rule_location, None)
    key = None
    if record.key_id is not None:
        key = ExplainedKey(
            id=record.key_id,
            type=record.key_type or "",
            environment=record.key_environment or "",
        )
    return Explanation(
        request_id=record.request_id,
        time=record.at,
        simulated=False,
        allowed=record.allowed,
        code=record.code.value,
        status=record.status,
        step=record.step,
        reason=record.reason,
        request=ExplainedRequest(method=record.method, path=record.path, ip=record.client),
        key=key,
        rule=_rule(record.rule, file, line, directory),
        error=record.error,
        trace=_steps(record.trace, directory),
        limits=[
            ExplainedLimit(name=h.name, limit=h.quota, remaining=h.remaining) for h in record.limits
        ],
    )


def from_dry_run(
    decision: Decision,
    at: datetime,
    method: str,
    path: str,
    ip: str | None,
    directory: Path | None,
) -> Explanation:
    """A call the engine judged without running it (``check(dry_run=True, explain=True)``)."""
    rule = decision.rule
    location: Location | None = rule.location if rule is not None else None
    trace = decision.trace or (Step(decision.step, decision.allowed, decision.reason),)
    limits: list[ExplainedLimit] = []
    headers = decision.headers
    if isinstance(headers, RateLimitHeaders):
        outcome = headers.outcome
        states = [*outcome.states, *([outcome.usage] if outcome.usage is not None else [])]
        limits = [
            ExplainedLimit(
                name=s.name, limit=s.quota, remaining=s.remaining, window=s.window, reset=s.reset
            )
            for s in states
        ]
    key = decision.key
    return Explanation(
        request_id=None,
        time=at,
        simulated=True,
        allowed=decision.allowed,
        code=decision.code.value,
        status=decision.status,
        step=decision.step,
        reason=decision.reason,
        request=ExplainedRequest(method=method, path=path, ip=ip),
        key=ExplainedKey(id=key.id, type=key.type, environment=key.environment) if key else None,
        rule=_rule(
            rule.name if rule is not None else None,
            location.file if location is not None else None,
            location.line if location is not None else None,
            directory,
        ),
        error=decision.error,
        trace=_steps(trace, directory),
        limits=limits,
    )
