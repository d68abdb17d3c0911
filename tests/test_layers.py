"""The package is layered, and imports run one way: a module may import from its own
layer or those below it, never from a layer above (STYLE.md, "The house")."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "policyengine"

#: From the ground floor up. A name is a top-level module or subpackage of policyengine.
LAYERS: tuple[frozenset[str], ...] = (
    frozenset(
        {
            "errors",
            "units",
            "net",
            "forwarded",
            "request",
            "decision",
            "record",
            "context",
            "private_files",
            "redaction",
            "db",
        }
    ),
    frozenset({"language"}),
    frozenset({"policy"}),
    frozenset({"keys", "limits", "tokens"}),
    frozenset({"monitor"}),
    frozenset({"pipeline", "judged", "metering", "testrun"}),
    frozenset({"engine", "express"}),
    frozenset({"integrations", "cli", "__main__", "__init__"}),
)


def layer_of(module: str) -> int:
    """The layer of ``policyengine.<name>[.…]``; the package itself is the top."""
    parts = module.split(".")
    name = parts[1] if len(parts) > 1 else "__init__"
    for index, names in enumerate(LAYERS):
        if name in names:
            return index
    raise LookupError(f"{module} is in no layer: add it to LAYERS in {__file__}")


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported(tree: ast.AST) -> list[tuple[int, str]]:
    """Every policyengine module a file imports, at any depth (lazy imports too)."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [
                (node.lineno, a.name) for a in node.names if a.name.startswith("policyengine")
            ]
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("policyengine"):
            module = node.module or ""
            if module == "policyengine":
                # ``from policyengine import net`` names a module; ``import Engine`` the top.
                found += [
                    (node.lineno, f"policyengine.{a.name}")
                    if (PACKAGE / f"{a.name}.py").exists() or (PACKAGE / a.name).is_dir()
                    else (node.lineno, "policyengine")
                    for a in node.names
                ]
            else:
                found.append((node.lineno, module))
    return found


def upward_imports() -> list[str]:
    problems = []
    for path in sorted(PACKAGE.rglob("*.py")):
        importer = module_name(path)
        own = layer_of(importer)
        for line, target in imported(ast.parse(path.read_text(), str(path))):
            if layer_of(target) > own:
                where = path.relative_to(PACKAGE.parent)
                problems.append(f"{where}:{line}: {importer} imports {target}, a layer above it")
    return problems


def test_no_module_imports_from_a_layer_above_it() -> None:
    assert upward_imports() == []


def test_the_walk_names_an_upward_import(tmp_path: Path) -> None:
    tree = ast.parse("def f():\n    from policyengine.engine import Engine\n")
    [(line, target)] = imported(tree)
    assert (line, target) == (2, "policyengine.engine")
    assert layer_of(target) > layer_of("policyengine.keys.manager")


def test_every_module_has_a_layer() -> None:
    for path in PACKAGE.rglob("*.py"):
        layer_of(module_name(path))  # raises, naming the module, when one is missing
    with pytest.raises(LookupError, match=r"policyengine\.nowhere is in no layer"):
        layer_of("policyengine.nowhere")
