"""Running policy test suites through the engine's own pipeline, with rule coverage."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from xml.etree import ElementTree as ET

from policyengine.decision import Decision
from policyengine.net import NO_PROXIES
from policyengine.pipeline import judge, resolve
from policyengine.policy.coverage import Coverage, CoverageReport
from policyengine.policy.loader import load_directory
from policyengine.policy.model import PolicySet
from policyengine.policy.prepared import PreparedPolicy
from policyengine.policy.suites import Case, Suite, load_suites


@dataclass(frozen=True)
class Result:
    suite: Suite
    case: Case
    decision: Decision
    seconds: float

    @property
    def passed(self) -> bool:
        if self.decision.code is not self.case.expect:
            return False
        return self.case.rule is None or (
            self.decision.rule is not None and self.decision.rule.name == self.case.rule
        )

    def failure(self) -> str:
        d = self.decision
        got = f"{d.code}" + (f" by {d.rule.name}" if d.rule else "")
        wanted = f"{self.case.expect}" + (f" by {self.case.rule}" if self.case.rule else "")
        request = self.case.request
        target = (
            f"{request.method} {request.path}"
            if request.method
            else f"{request.resource}:{request.action}"
        )
        return (
            f"{self.case.location}: expected {wanted}, got {got}: {d.reason}\n"
            f"    key {self.case.key_name} ({self.case.key.type}, {self.case.key.environment}), "
            f"{target}" + (f" from {request.ip}" if request.ip else "")
        )


@dataclass
class Run:
    policy: PolicySet
    results: list[Result]
    coverage: CoverageReport

    @property
    def failed(self) -> list[Result]:
        return [r for r in self.results if not r.passed]


def run_directory(directory: str | Path) -> Run:
    """Load the policies and suites of ``directory`` and run every case."""
    policy = load_directory(directory)
    suites = load_suites(directory, policy)
    return run_suites(policy, suites)


def run_suites(policy: PolicySet, suites: list[Suite]) -> Run:
    coverage = Coverage()
    prepared = PreparedPolicy(policy, coverage)
    results = []
    for suite in suites:
        for case in suite.cases:
            started = time.perf_counter()
            decision = _decide(prepared, case, coverage)
            results.append(Result(suite, case, decision, time.perf_counter() - started))
    return Run(policy, results, coverage.report(policy))


def _decide(prepared: PreparedPolicy, case: Case, coverage: Coverage) -> Decision:
    resolved = resolve(prepared, case.request, case.now.timestamp(), NO_PROXIES, case.credential)
    decision = judge(prepared, case.key, resolved, case.environment, case.now, explain=True)
    if decision.step in ("scope", "rules", "done") and resolved.problem is None:
        _, _, scope, matched = prepared.explain(case.key, resolved.ctx, None, resolved.any_key)
        key_type = prepared.key_types.get(case.key.type)
        if scope is not None and key_type is not None:
            allowed = key_type.allowed_scopes if key_type.from_key else ()
            coverage.record_grant(key_type.name, scope, allowed)
        coverage.rules_matched.update(rule.name for rule in matched)
    return decision


def junit_xml(run: Run) -> bytes:
    root = ET.Element("testsuites", tests=str(len(run.results)), failures=str(len(run.failed)))
    by_suite: dict[str, list[Result]] = {}
    for result in run.results:
        by_suite.setdefault(result.suite.path, []).append(result)
    for path, results in by_suite.items():
        element = ET.SubElement(
            root,
            "testsuite",
            name=results[0].suite.name,
            file=path,
            tests=str(len(results)),
            failures=str(sum(not r.passed for r in results)),
            time=f"{sum(r.seconds for r in results):.6f}",
        )
        for result in results:
            case = ET.SubElement(
                element,
                "testcase",
                classname=results[0].suite.name,
                name=result.case.name,
                file=path,
                line=str(result.case.location.line),
                time=f"{result.seconds:.6f}",
            )
            if not result.passed:
                failure = ET.SubElement(
                    case,
                    "failure",
                    message=f"expected {result.case.expect}, got {result.decision.code}",
                )
                failure.text = result.failure()
    data: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return data
