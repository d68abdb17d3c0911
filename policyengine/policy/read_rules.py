"""Reading the ``rules:`` of a policy file, their conditions parsed and type-checked."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import yaml

from policyengine.errors import Diagnostic
from policyengine.language.checker import check, suggest
from policyengine.language.parser import ConditionError, parse
from policyengine.policy.model import Condition, Rule
from policyengine.policy.read_key_types import NAME
from policyengine.policy.source import Reader

if TYPE_CHECKING:
    from policyengine.policy.loader import Collected

RULE_KEYS = (
    "name",
    "effect",
    "actions",
    "resources",
    "key_types",
    "when",
    "unless",
    "reason",
    "code",
)
RULE_CODES = ("DENIED_BY_POLICY", "IP_NOT_ALLOWED")


@dataclass(frozen=True)
class KnownNames:
    """What rules may name, worked out once for all the rules of a set: as sets, to test
    a name in constant time, and sorted, for the suggestions of a diagnostic."""

    actions: tuple[frozenset[str], list[str]]
    resources: tuple[frozenset[str], list[str]]
    key_types: tuple[frozenset[str], list[str]]
    headers: frozenset[str]

    @classmethod
    def of(cls, pending: Collected) -> KnownNames:
        known = pending.resources
        actions = frozenset(set().union(*known.values())) if known else frozenset()
        return cls(
            (actions, sorted(actions)),
            (frozenset(known), sorted(known)),
            (frozenset(pending.key_types), sorted(pending.key_types)),
            frozenset(pending.headers),
        )


def read_rule(
    r: Reader, node: yaml.Node, pending: Collected, names: KnownNames | None = None
) -> Rule | None:
    fields = r.mapping(node, "a rule", RULE_KEYS)
    if fields is None:
        return None
    missing = [k for k in ("name", "effect") if k not in fields]
    if missing:
        r.error(node, f"a rule needs {' and '.join(missing)}")
        return None
    name = r.string(fields["name"][1], "name")
    effect = r.choice(fields["effect"][1], "effect", ("allow", "deny"))
    if name is not None and not NAME.fullmatch(name):
        r.error(fields["name"][1], f"rule name '{name}' must be lower case: a-z, 0-9, _ . -")
        name = None
    names = names or KnownNames.of(pending)
    actions = _names(r, fields, "actions", names.actions)
    resources = _names(r, fields, "resources", names.resources)
    key_types = _names(r, fields, "key_types", names.key_types, wildcard=False)
    headers = names.headers
    when = _condition(r, fields["when"][1], headers) if "when" in fields else None
    unless = _condition(r, fields["unless"][1], headers) if "unless" in fields else None
    code = "DENIED_BY_POLICY"
    if "code" in fields:
        code = r.choice(fields["code"][1], "code", RULE_CODES) or code
        if effect == "allow":
            r.error(fields["code"][0], "only a deny rule gives a decision code")
    reason = r.string(fields["reason"][1], "reason") if "reason" in fields else None
    conditions_ok = ("when" not in fields or when) and ("unless" not in fields or unless)
    if None in (name, effect, actions, resources, key_types) or not conditions_ok:
        return None
    assert name is not None
    assert effect is not None
    return Rule(
        name=name,
        effect=effect,  # type: ignore[arg-type]
        reason=reason or f"{'denied' if effect == 'deny' else 'allowed'} by rule '{name}'",
        actions=actions or ("*",),
        resources=resources or ("*",),
        key_types=key_types or (),
        when=when,
        unless=unless,
        code=code,
        location=r.location(node),
    )


def _names(
    r: Reader,
    fields: dict[str, tuple[yaml.Node, yaml.Node]],
    key: str,
    known: tuple[frozenset[str], list[str]],
    wildcard: bool = True,
) -> tuple[str, ...] | None:
    if key not in fields:
        return ()
    items = r.strings(fields[key][1], key)
    if items is None:
        return None
    ok = True
    for text, item in items:
        if not (wildcard and text == "*") and text not in known[0]:
            singular = key[:-1].replace("_", " ")
            r.error(item, f"unknown {singular} '{text}'" + suggest(text, known[1]))
            ok = False
    return tuple(text for text, _ in items) if ok else None


def _condition(r: Reader, node: yaml.Node, headers: frozenset[str]) -> Condition | None:
    source = r.string(node, "a condition")
    if source is None:
        return None
    assert isinstance(node, yaml.ScalarNode)
    condition = Condition(source, None, r.location(node), r.anchors(node))  # type: ignore[arg-type]
    try:
        tree = check(parse(source), headers)
    except ConditionError as error:
        r.diagnostics.append(Diagnostic(condition.locate(error.offset), error.message))
        return None
    return Condition(source, tree, condition.location, condition.lines)
