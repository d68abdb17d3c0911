"""Policy test suites (``*_test.yaml``): keys described by their attributes, requests,
an instant, and the decision each case expects."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import yaml

from policyengine.decision import Code
from policyengine.errors import Diagnostic, InvalidValue, Location, PolicyError
from policyengine.language.checker import suggest
from policyengine.policy.files import read_file, test_files
from policyengine.policy.model import PolicySet
from policyengine.policy.source import Reader
from policyengine.record import DEFAULT_KEY_PREFIX, KeyRecord
from policyengine.request import Request

#: The environment a suite decides for when it names none: the engine's default too.
DEFAULT_ENVIRONMENT = "test"
SUITE_KEYS = ("version", "name", "description", "environment", "now", "keys", "requests", "tests")
KEY_FIELDS = (
    "id",
    "type",
    "label",
    "environment",
    "scopes",
    "allowed_ips",
    "metadata",
    "created_at",
    "expires_at",
    "revoked_at",
    "disabled",
)
REQUEST_FIELDS = ("method", "path", "resource", "action", "ip", "credential", "headers")
CASE_KEYS = (
    "name",
    "key",
    "keys",
    "request",
    "requests",
    "expect",
    "rule",
    "now",
    "environment",
)


@dataclass(frozen=True)
class Case:
    name: str
    key_name: str
    key: KeyRecord
    request_name: str
    request: Request
    expect: Code
    rule: str | None
    environment: str
    now: datetime
    location: Location
    #: ``key`` when the request presents the key itself, ``token`` for a token exchanged
    #: for it (carrying all of its scopes), as ``request.credential`` reads.
    credential: str = "key"


@dataclass
class Suite:
    name: str
    path: str
    cases: list[Case] = field(default_factory=list)


def load_suites(directory: str | Path, policy: PolicySet) -> list[Suite]:
    """The suites of ``directory``, checked against ``policy``: the rules and key types
    they name must exist."""
    diagnostics: list[Diagnostic] = []
    suites = []
    for path in test_files(Path(directory)):
        text = read_file(path, diagnostics)
        if text is None:
            continue
        reader = Reader(str(path), text, diagnostics)
        root = reader.compose()
        if root is not None:
            suite = _suite(reader, root, policy)
            if suite is not None:
                suites.append(suite)
    if diagnostics:
        raise PolicyError(diagnostics)
    return suites


def _suite(r: Reader, root: yaml.Node, policy: PolicySet) -> Suite | None:
    top = r.mapping(root, "a test suite", SUITE_KEYS)
    if top is None:
        return None
    if "version" not in top:
        r.error(root, "missing 'version: 1'")
    elif r.integer(top["version"][1], "version") not in (1, None):
        r.error(top["version"][1], "unsupported version; this engine reads version 1")
    for required in ("now", "tests"):
        if required not in top:
            r.error(root, f"a test suite needs '{required}'")
            return None
    name = Path(r.path).stem
    if "name" in top:
        name = r.string(top["name"][1], "name") or name
    if "description" in top:
        r.string(top["description"][1], "description")
    environment = DEFAULT_ENVIRONMENT
    if "environment" in top:
        environment = (
            r.choice(top["environment"][1], "environment", ("test", "live")) or DEFAULT_ENVIRONMENT
        )
    now = r.instant(top["now"][1], "now")
    if now is None:
        return None
    keys = (r.mapping(top["keys"][1], "keys") or {}) if "keys" in top else {}
    requests = (r.mapping(top["requests"][1], "requests") or {}) if "requests" in top else {}
    suite = Suite(name, r.path)
    for case_node in r.sequence(top["tests"][1], "tests") or ():
        suite.cases.extend(_cases(r, case_node, keys, requests, environment, now, policy))
    return suite


def _cases(
    r: Reader,
    node: yaml.Node,
    keys: dict[str, tuple[yaml.Node, yaml.Node]],
    requests: dict[str, tuple[yaml.Node, yaml.Node]],
    environment: str,
    now: datetime,
    policy: PolicySet,
) -> list[Case]:
    rule_names = sorted(rule.name for rule in policy.rules)
    fields = r.mapping(node, "a test case", CASE_KEYS)
    if fields is None:
        return []
    for required in ("name", "expect"):
        if required not in fields:
            r.error(node, f"a test case needs '{required}'")
            return []
    if ("key" in fields) == ("keys" in fields) or ("request" in fields) == ("requests" in fields):
        r.error(node, "a test case needs one of key/keys and one of request/requests")
        return []
    name = r.string(fields["name"][1], "name") or ""
    expect_text = r.choice(fields["expect"][1], "expect", tuple(Code))
    rule = r.string(fields["rule"][1], "rule") if "rule" in fields else None
    if rule is not None and rule not in rule_names:
        r.error(fields["rule"][1], f"unknown rule '{rule}'" + suggest(rule, rule_names))
    if "environment" in fields:
        environment = (
            r.choice(fields["environment"][1], "environment", ("test", "live")) or environment
        )
    if "now" in fields:
        now = r.instant(fields["now"][1], "now") or now
    key_refs = _refs(r, fields, "key", "keys")
    request_refs = _refs(r, fields, "request", "requests")
    if expect_text is None:
        return []
    cases = []
    for key_label, key_node in key_refs:
        key = _key(r, key_label, key_node, keys, environment, now, policy)
        for request_label, request_node in request_refs:
            found = _request(r, request_node, requests)
            if key is None or found is None:
                continue
            request, credential = found
            label = (
                name
                if len(key_refs) * len(request_refs) == 1
                else (f"{name} [{key_label} × {request_label}]")
            )
            cases.append(
                Case(
                    label,
                    key_label,
                    key,
                    request_label,
                    request,
                    Code(expect_text),
                    rule,
                    environment,
                    now,
                    r.location(node),
                    credential,
                )
            )
    return cases


def _refs(
    r: Reader, fields: dict[str, tuple[yaml.Node, yaml.Node]], one: str, many: str
) -> list[tuple[str, yaml.Node]]:
    if one in fields:
        node = fields[one][1]
        label = node.value if isinstance(node, yaml.ScalarNode) else "(inline)"
        return [(str(label), node)]
    items = r.sequence(fields[many][1], many) or []
    return [
        (str(item.value) if isinstance(item, yaml.ScalarNode) else f"(inline {i + 1})", item)
        for i, item in enumerate(items)
    ]


def _lookup(
    r: Reader, node: yaml.Node, named: dict[str, tuple[yaml.Node, yaml.Node]], what: str
) -> yaml.Node | None:
    if isinstance(node, yaml.MappingNode):
        return node
    text = r.string(node, what)
    if text is None:
        return None
    if text not in named:
        r.error(node, f"unknown {what} '{text}'" + suggest(text, sorted(named)))
        return None
    return named[text][1]


def _key(
    r: Reader,
    label: str,
    node: yaml.Node,
    named: dict[str, tuple[yaml.Node, yaml.Node]],
    environment: str,
    now: datetime,
    policy: PolicySet,
) -> KeyRecord | None:
    spec = _lookup(r, node, named, "key")
    if spec is None:
        return None
    fields = r.mapping(spec, f"key '{label}'", KEY_FIELDS)
    if fields is None:
        return None
    if "type" not in fields:
        r.error(spec, f"key '{label}' needs a type")
        return None
    type_name = r.string(fields["type"][1], "type")
    if type_name is None:
        return None
    if type_name not in policy.key_types:
        known = sorted(policy.key_types)
        r.error(fields["type"][1], f"unknown key type '{type_name}'" + suggest(type_name, known))
        return None

    def text(name: str, default: str) -> str:
        return (r.string(fields[name][1], name) or default) if name in fields else default

    def strings(name: str) -> tuple[str, ...]:
        return tuple(t for t, _ in r.strings(fields[name][1], name) or ()) if name in fields else ()

    def instant(name: str) -> datetime | None:
        return r.instant(fields[name][1], name) if name in fields else None

    metadata = {}
    if "metadata" in fields:
        for meta_key, (_, value) in (r.mapping(fields["metadata"][1], "metadata") or {}).items():
            metadata[meta_key] = r.string(value, f"metadata '{meta_key}'", empty=True) or ""
    env = text("environment", environment)
    if env not in ("test", "live"):
        r.error(fields["environment"][1], f"environment must be test or live, not '{env}'")
        return None
    disabled = bool(r.boolean(fields["disabled"][1], "disabled")) if "disabled" in fields else False
    try:
        return KeyRecord(
            id=text("id", f"key_{label}"),
            type=type_name,
            label=text("label", label),
            environment=env,  # type: ignore[arg-type]
            prefix=f"{policy.key_prefix or DEFAULT_KEY_PREFIX}_{env}_",
            last4="test",
            created_at=instant("created_at") or now - timedelta(days=1),
            expires_at=instant("expires_at"),
            revoked_at=instant("revoked_at"),
            scopes=strings("scopes"),
            allowed_ips=strings("allowed_ips"),
            metadata=metadata,
            disabled=disabled,
        )
    except InvalidValue as error:
        r.error(spec, f"key '{label}': {error}")
        return None


def _request(
    r: Reader, node: yaml.Node, named: dict[str, tuple[yaml.Node, yaml.Node]]
) -> tuple[Request, str] | None:
    spec = _lookup(r, node, named, "request")
    if spec is None:
        return None
    fields = r.mapping(spec, "a request", REQUEST_FIELDS)
    if fields is None:
        return None
    values = {
        name: r.string(fields[name][1], name)
        for name in REQUEST_FIELDS
        if name in fields and name not in ("credential", "headers")
    }
    credential = "key"
    if "credential" in fields:
        credential = r.choice(fields["credential"][1], "credential", ("key", "token")) or "key"
    headers = {}
    if "headers" in fields:
        for header, (_, value) in (r.mapping(fields["headers"][1], "headers") or {}).items():
            headers[header.lower()] = r.string(value, f"header '{header}'", empty=True) or ""
    has_route = "method" in values and "path" in values
    has_target = "resource" in values and "action" in values
    if has_route == has_target:
        r.error(spec, "a request needs method and path, or resource and action")
        return None
    return Request(headers=headers, **values), credential  # type: ignore[arg-type]
