"""Every package the code imports is declared: in the core dependencies, or in the extra
named for what it enables (``pip install 'policyengine[fastapi]'`` makes the FastAPI
integration importable). Checked from the source and ``pyproject.toml``, so that it needs
no virtual environment per extra."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
#: The product's packages: the engine, and the portal, all of which needs its extra.
PACKAGES = ("policyengine", "portal")

#: The modules that need more than the core dependencies, and the extra each needs.
EXTRAS = {
    "policyengine.integrations.fastapi": "fastapi",
    "policyengine.integrations.asgi": "asgi",
    "policyengine.integrations.lifespan": "asgi",
    "policyengine.keys.postgres": "postgres",
    "policyengine.db.postgres": "postgres",
    "policyengine.monitor.metrics": "metrics",
    "policyengine.keys.invalidation": "redis",
    "policyengine.limits.redis": "redis",
    "policyengine.tokens.service": "jwt",
    "policyengine.tokens.signing": "jwt",
    "policyengine.tokens.keyring": "jwt",
    "policyengine.tokens.keyfile": "jwt",
    "policyengine.tokens.store": "jwt",
    "policyengine.tokens.claims": "jwt",
}
#: The extras there are, each named for what it enables.
NAMES = {
    *("fastapi", "asgi", "postgres", "redis", "jwt", "metrics", "portal"),
    *("test", "docs", "bench", "all"),
}


def _name(requirement: str) -> str:
    match = re.match(r"[A-Za-z0-9._-]+", requirement)
    assert match, requirement
    return re.sub(r"[-_.]+", "-", match.group()).lower()


def _project() -> dict[str, object]:
    with (ROOT / "pyproject.toml").open("rb") as file:
        project: dict[str, object] = tomllib.load(file)["project"]
    return project


def _extras() -> dict[str, set[str]]:
    """Each extra's distributions, with ``policyengine[...]`` references expanded."""
    raw: dict[str, list[str]] = _project()["optional-dependencies"]  # type: ignore[assignment]
    resolved: dict[str, set[str]] = {}

    def expand(extra: str) -> set[str]:
        if extra not in resolved:
            names: set[str] = set()
            for requirement in raw[extra]:
                if requirement.startswith("policyengine["):
                    for inner in requirement[len("policyengine[") : -1].split(","):
                        names |= expand(inner.strip())
                else:
                    names.add(_name(requirement))
            resolved[extra] = names
        return resolved[extra]

    for extra in raw:
        expand(extra)
    return resolved


def _core() -> set[str]:
    return {_name(requirement) for requirement in _project()["dependencies"]}  # type: ignore[attr-defined]


def _module(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _third_party(nodes: list[ast.stmt] | list[ast.AST]) -> set[str]:
    names: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return {
        name.split(".")[0]
        for name in names
        if name.split(".")[0] not in sys.stdlib_module_names
        and not name.startswith((*PACKAGES, "__future__"))
    }


def _package_imports(tree: ast.Module) -> set[str]:
    """The package's modules that ``tree`` imports at module level (when it is imported)."""
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names if a.name.startswith(PACKAGES))
        elif (
            isinstance(node, ast.ImportFrom)
            and node.level == 0
            and (node.module or "").startswith(PACKAGES)
        ):
            names.add(str(node.module))
            names.update(f"{node.module}.{a.name}" for a in node.names)
    return names


MODULES = {
    _module(path): path for package in PACKAGES for path in sorted((ROOT / package).rglob("*.py"))
}
TREES = {name: ast.parse(path.read_text(encoding="utf-8")) for name, path in MODULES.items()}


def _needs(module: str) -> set[str]:
    """The third-party packages that ``module`` imports anywhere (a function-level import
    is its own need), and that the modules it imports at module level import there
    (their function-level imports are theirs, needed only when called)."""
    needed = _third_party(list(ast.walk(TREES[module])))
    seen = {module}
    pending = list(_package_imports(TREES[module]))
    while pending:
        other = pending.pop()
        if other in seen or other not in TREES:
            continue
        seen.add(other)
        needed |= _third_party(TREES[other].body)
        pending.extend(_package_imports(TREES[other]))
    return needed


def _distributions(packages: set[str]) -> set[str]:
    found = packages_distributions()
    names = set()
    for package in packages:
        assert package in found, f"{package} is imported but not installed"
        names.update(_name(dist) for dist in found[package])
    return names


def test_the_extras_are_named_for_what_they_enable() -> None:
    assert set(_extras()) == NAMES
    assert _extras()["all"] == set().union(*(d for n, d in _extras().items() if n != "all"))


@pytest.mark.parametrize("module", sorted(MODULES))
def test_each_modules_imports_are_declared(module: str) -> None:
    needed = _distributions(_needs(module))
    extra = "portal" if module.startswith("portal") else EXTRAS.get(module)
    declared = _core() | (_extras()[extra] if extra else set())
    assert needed <= declared, f"{module} imports {sorted(needed - declared)}, not declared"


def test_test_only_libraries_are_in_the_test_extra_and_no_feature_needs_them() -> None:
    extras = _extras()
    features = ("fastapi", "asgi", "postgres", "redis", "jwt", "metrics", "portal")
    for library in ("pytest", "hypothesis", "httpx"):
        assert library in extras["test"]
    for library in ("pytest", "hypothesis"):
        assert all(library not in extras[name] for name in features)
    # The test client's HTTP library is no integration's need; the portal alone uses it at
    # run time, to make a task's requests to its own API in process.
    assert all("httpx" not in extras[name] for name in features if name != "portal")
    assert "httpx" in extras["portal"]
