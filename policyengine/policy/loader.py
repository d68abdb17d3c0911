"""A directory of policy YAML → a validated :class:`PolicySet`, or every problem at once."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from policyengine.errors import Diagnostic, InvalidValue, Location, PolicyError
from policyengine.language.checker import suggest
from policyengine.policy.alerts import AlertSettings, default_alerts
from policyengine.policy.files import policy_files, read_file
from policyengine.policy.model import (
    KeyType,
    PolicySet,
    Route,
    Rule,
)
from policyengine.policy.named import unnamed_route_targets
from policyengine.policy.read_alerts import read_alerts
from policyengine.policy.read_key_types import read_key_type
from policyengine.policy.read_rules import KnownNames, read_rule
from policyengine.policy.routes import METHODS, Param, parse_template
from policyengine.policy.scopes import Scope
from policyengine.policy.source import Reader
from policyengine.record import KEY_PREFIX
from policyengine.units import shown

FILE_KEYS = (
    "version",
    "description",
    "key_prefix",
    "headers",
    "resources",
    "key_types",
    "routes",
    "rules",
    "alerts",
)
_NAME = re.compile(r"[a-z0-9][a-z0-9_.-]*")
_ROUTE_TARGET = re.compile(
    r"([a-z0-9][a-z0-9_.-]*)(?:/(\{[A-Za-z_][A-Za-z0-9_]*\}|[A-Za-z0-9_.-]+))?:([a-z0-9][a-z0-9_.-]*)"
)
_HEADER = re.compile(r"[a-z0-9!#$%&'*+.^_`|~-]+")


def load_directory(directory: str | Path) -> PolicySet:
    """Every ``*.yaml`` below ``directory`` (except ``*_test.yaml`` suites), validated."""
    root = Path(directory)
    if not root.is_dir():
        # Not a policy problem with a place in a file: the caller named the wrong path.
        reason = "is not a directory" if root.exists() else "does not exist"
        raise InvalidValue(f"the policy directory {root} {reason}")
    paths = policy_files(root)
    if not paths:
        message = "no policy files (*.yaml or *.yml) in this directory"
        raise PolicyError([Diagnostic(Location.whole(str(root)), message)])
    unread: list[Diagnostic] = []
    files = {str(p): text for p in paths if (text := read_file(p, unread)) is not None}
    if unread:
        raise PolicyError(unread)
    return load_texts(files)


@dataclass
class Collected:
    """What the first pass found; rules wait until every file's headers are known."""

    key_types: dict[str, KeyType] = field(default_factory=dict)
    routes: list[Route] = field(default_factory=list)
    resources: dict[str, set[str]] = field(default_factory=dict)
    headers: set[str] = field(default_factory=set)
    rules: list[tuple[Reader, yaml.Node]] = field(default_factory=list)
    scope_refs: list[tuple[Reader, yaml.Node, Scope]] = field(default_factory=list)
    seen_routes: dict[tuple[str, tuple[object, ...]], tuple[str, Location]] = field(
        default_factory=dict
    )
    #: What ``resources:`` entries declare (routes declare the rest).
    declared: dict[str, set[str]] = field(default_factory=dict)
    alerts: dict[str, AlertSettings] = field(default_factory=dict)
    key_prefix: tuple[str, Location] | None = None


def load_texts(files: dict[str, str]) -> PolicySet:
    """Policy files given as ``{path: text}``; the paths appear in diagnostics."""
    diagnostics: list[Diagnostic] = []
    pending = Collected()
    for path, text in files.items():
        reader = Reader(path, text, diagnostics)
        root = reader.compose()
        if root is not None:
            _read_file(reader, root, pending)
    for reader, node, scope in pending.scope_refs:
        _check_scope(reader, node, scope, pending.resources)
    known = KnownNames.of(pending)
    rules = [
        r for r in (read_rule(reader, node, pending, known) for reader, node in pending.rules) if r
    ]
    diagnostics.extend(
        unnamed_route_targets(
            pending.routes, pending.resources, pending.declared, pending.key_types.values(), rules
        )
    )
    names: dict[str, Rule] = {}
    for rule in rules:
        if rule.name in names:
            first = names[rule.name].location
            diagnostics.append(
                Diagnostic(rule.location, f"duplicate rule name '{rule.name}' (first at {first})")
            )
        names.setdefault(rule.name, rule)
    if diagnostics:
        raise PolicyError(diagnostics)
    digest = hashlib.sha256()
    for path in sorted(files):
        digest.update(path.encode() + b"\0" + files[path].encode() + b"\0")
    return PolicySet(
        key_types=pending.key_types,
        routes=tuple(pending.routes),
        rules=tuple(rules),
        headers=tuple(sorted(pending.headers)),
        resources={name: frozenset(actions) for name, actions in pending.resources.items()},
        files=tuple(files),
        digest=digest.hexdigest(),
        alerts={**default_alerts(), **pending.alerts},
        key_prefix=pending.key_prefix[0] if pending.key_prefix else None,
    )


def _read_file(r: Reader, root: yaml.Node, pending: Collected) -> None:
    top = r.mapping(root, "a policy file", FILE_KEYS)
    if top is None:
        return
    if "version" not in top:
        r.error(root, "missing 'version: 1'")
    elif r.integer(top["version"][1], "version") not in (1, None):
        r.error(top["version"][1], "unsupported version; this engine reads version 1")
    if "description" in top:
        r.string(top["description"][1], "description")
    if "key_prefix" in top:
        _key_prefix(r, top["key_prefix"], pending)
    if "headers" in top:
        for name, node in r.strings(top["headers"][1], "headers") or ():
            if not _HEADER.fullmatch(name):
                r.error(node, f"'{name}' is not a header name in lower case")
            pending.headers.add(name)
    if "resources" in top:
        _resources(r, top["resources"][1], pending)
    if "routes" in top:
        _routes(r, top["routes"][1], pending)
    if "key_types" in top:
        types = r.mapping(top["key_types"][1], "key_types") or {}
        for name, (name_node, node) in types.items():
            if name in pending.key_types:
                first = pending.key_types[name].location
                r.error(name_node, f"duplicate key type '{name}' (first at {first})")
            elif not _NAME.fullmatch(name):
                r.error(name_node, f"key type name '{name}' must be lower case: a-z, 0-9, _ . -")
            else:
                key_type = read_key_type(r, name, name_node, node, pending)
                if key_type is not None:
                    pending.key_types[name] = key_type
    if "rules" in top:
        pending.rules.extend((r, node) for node in r.sequence(top["rules"][1], "rules") or ())
    if "alerts" in top:
        read_alerts(r, top["alerts"][1], pending)


def _key_prefix(r: Reader, nodes: tuple[yaml.Node, yaml.Node], pending: Collected) -> None:
    name_node, node = nodes
    if pending.key_prefix is not None:
        first = pending.key_prefix[1]
        r.error(name_node, f"key_prefix is set twice (first at {first})")
        return
    prefix = r.string(node, "key_prefix")
    if prefix is None:
        return
    if not KEY_PREFIX.fullmatch(prefix):
        r.error(
            node,
            f"key_prefix {shown(prefix)} must be 2 to 16 lower-case letters and digits, "
            "starting with a letter, such as tdoc",
        )
        return
    pending.key_prefix = (prefix, r.location(name_node))


def _resources(r: Reader, node: yaml.Node, pending: Collected) -> None:
    for name, (name_node, actions_node) in (r.mapping(node, "resources") or {}).items():
        if not _NAME.fullmatch(name):
            r.error(name_node, f"resource name '{name}' must be lower case: a-z, 0-9, _ . -")
            continue
        actions = pending.resources.setdefault(name, set())
        declared = pending.declared.setdefault(name, set())
        for action, action_node in r.strings(actions_node, f"actions of '{name}'") or ():
            if not _NAME.fullmatch(action):
                r.error(action_node, f"action name '{action}' must be lower case")
            actions.add(action)
            declared.add(action)


def _routes(r: Reader, node: yaml.Node, pending: Collected) -> None:
    for spec, (spec_node, target) in (r.mapping(node, "routes") or {}).items():
        method, _, path = spec.partition(" ")
        method, path = method.strip().upper(), path.strip()
        if method not in METHODS or not path:
            r.error(
                spec_node, f"route '{spec}' must be a method and a path, such as 'GET /v1/events'"
            )
            continue
        try:
            segments = parse_template(path)
        except InvalidValue as error:
            r.error(spec_node, str(error))
            continue
        shape = (method, tuple(None if isinstance(s, Param) else s for s in segments))
        if shape in pending.seen_routes:
            first, where = pending.seen_routes[shape]
            r.error(spec_node, f"route '{spec}' duplicates '{first}' (first at {where})")
            continue
        pending.seen_routes[shape] = (spec, r.location(spec_node))
        any_key, metered, scope_node = False, True, target
        if isinstance(target, yaml.MappingNode):
            fields = r.mapping(target, f"route '{spec}'", ("scope", "any_key", "metered")) or {}
            if "scope" not in fields:
                r.error(target, f"route '{spec}' needs a scope, such as events:read")
                continue
            scope_node = fields["scope"][1]
            if "any_key" in fields:
                any_key = bool(r.boolean(fields["any_key"][1], "any_key"))
            if "metered" in fields:
                metered = r.boolean(fields["metered"][1], "metered") is not False
        target_text = r.string(scope_node, f"the scope of route '{spec}'")
        match = _ROUTE_TARGET.fullmatch(target_text or "")
        if target_text is None:
            continue
        if match is None:
            r.error(
                scope_node,
                f"route '{spec}' must map to one resource and one action, such as events:read "
                f"or events/{{id}}:read, not '{target_text}'",
            )
            continue
        resource, instance, action = match.groups()
        params = {s.name for s in segments if isinstance(s, Param)}
        if instance is not None and instance.startswith("{") and instance[1:-1] not in params:
            r.error(scope_node, f"'{instance}' is not a parameter of the path '{path}'")
            continue
        scope = Scope(resource, instance, action)
        pending.resources.setdefault(scope.resource, set()).add(scope.action)
        pending.routes.append(
            Route(
                method,
                path,
                scope.resource,
                instance,
                scope.action,
                any_key,
                r.location(spec_node),
                metered,
            )
        )


def _check_scope(r: Reader, node: yaml.Node, scope: Scope, known: dict[str, set[str]]) -> None:
    if scope.resource != "*" and scope.resource not in known:
        r.error(
            node, f"unknown resource '{scope.resource}'" + suggest(scope.resource, sorted(known))
        )
        return
    actions = known[scope.resource] if scope.resource != "*" else set().union(*known.values())
    if scope.action != "*" and scope.action not in actions:
        where = f" of '{scope.resource}'" if scope.resource != "*" else ""
        r.error(
            node, f"unknown action '{scope.action}'{where}" + suggest(scope.action, sorted(actions))
        )
