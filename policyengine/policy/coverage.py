"""What policy tests exercised: rules that matched, scopes that granted, and the way each
boolean part of each condition went."""

from __future__ import annotations

from dataclasses import dataclass, field

from policyengine.errors import Location
from policyengine.language import ast
from policyengine.policy.model import Condition, PolicySet
from policyengine.policy.scopes import Scope


@dataclass(frozen=True, slots=True)
class Branch:
    location: Location
    text: str


class _ConditionProbe:
    def __init__(self, coverage: Coverage, condition: Condition) -> None:
        self.coverage = coverage
        self.condition = condition
        self.hit = coverage.hit

    def register(self, node: ast.Expr) -> int:
        branch = Branch(
            self.condition.locate(node.start), self.condition.source[node.start : node.end]
        )
        self.coverage.branches.append(branch)
        self.coverage.outcomes.append(set())
        return len(self.coverage.branches) - 1


@dataclass
class Coverage:
    branches: list[Branch] = field(default_factory=list)
    outcomes: list[set[bool]] = field(default_factory=list)
    rules_matched: set[str] = field(default_factory=set)
    #: ``(key type, scope)`` pairs that granted a request.
    scopes_used: set[tuple[str, str]] = field(default_factory=set)

    def probe(self, condition: Condition) -> _ConditionProbe:
        return _ConditionProbe(self, condition)

    def hit(self, branch: int, value: bool) -> bool:
        self.outcomes[branch].add(value)
        return value

    def record_grant(self, key_type: str, scope: Scope, allowed: tuple[Scope, ...]) -> None:
        """Note the scope that granted; for ``from_key`` types, the allowance it fell in."""
        if allowed:
            for outer in allowed:
                if outer.covers(scope):
                    self.scopes_used.add((key_type, str(outer)))
        else:
            self.scopes_used.add((key_type, str(scope)))

    def report(self, policy: PolicySet) -> CoverageReport:
        scopes = [
            (name, str(s))
            for name, kt in policy.key_types.items()
            for s in (kt.scopes if kt.scopes is not None else kt.allowed_scopes)
        ]
        return CoverageReport(
            rules=[(r.name, r.location, r.name in self.rules_matched) for r in policy.rules],
            scopes=[(name, scope, (name, scope) in self.scopes_used) for name, scope in scopes],
            branches=[(b, self.outcomes[i]) for i, b in enumerate(self.branches)],
        )


@dataclass
class CoverageReport:
    rules: list[tuple[str, Location, bool]]
    scopes: list[tuple[str, str, bool]]
    branches: list[tuple[Branch, set[bool]]]

    @staticmethod
    def _ratio(done: int, total: int) -> str:
        percent = 100.0 if total == 0 else 100.0 * done / total
        return f"{done}/{total} ({percent:.0f}%)"

    @property
    def rules_complete(self) -> bool:
        return all(hit for _, _, hit in self.rules)

    def lines(self) -> list[str]:
        rules_hit = sum(hit for _, _, hit in self.rules)
        scopes_hit = sum(hit for _, _, hit in self.scopes)
        outcomes = sum(len(seen) for _, seen in self.branches)
        out = [
            "coverage",
            f"  rules     {self._ratio(rules_hit, len(self.rules))}",
            f"  scopes    {self._ratio(scopes_hit, len(self.scopes))}",
            f"  branches  {self._ratio(outcomes, 2 * len(self.branches))} outcomes",
        ]
        out += [f"  never matched: rule {n} ({loc})" for n, loc, hit in self.rules if not hit]
        out += [f"  never granted: {kt} scope {s}" for kt, s, hit in self.scopes if not hit]
        for branch, seen in self.branches:
            for value in (True, False):
                if value not in seen:
                    out.append(f"  never {str(value).lower()}: {branch.location} {branch.text}")
        return out
