"""The examples in docs/keys.md run, in order, as a reader would run them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

PAGE = Path(__file__).resolve().parents[2] / "docs" / "keys.md"
_BLOCK = re.compile(r"^```python\n(.*?)^```", re.DOTALL | re.MULTILINE)


def examples() -> list[tuple[int, str]]:
    text = PAGE.read_text()
    return [(text.count("\n", 0, m.start()) + 2, m.group(1)) for m in _BLOCK.finditer(text)]


def test_the_page_has_examples_for_each_step_of_the_lifecycle() -> None:
    code = "\n".join(block for _, block in examples())
    for call in ("create(", "lookup(", "list(", "update(", "disable(", "enable(", "rotate(",
                 "revoke(", "sweep("):  # fmt: skip
        assert f"keys.{call}" in code


def test_the_examples_run_in_order(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("POLICYENGINE_SECRET", raising=False)
    namespace: dict[str, object] = {"__name__": "docs_keys"}
    for line, block in examples():
        # Compiled with the page's name and line numbers, so a failure points into the page.
        code = compile("\n" * (line - 1) + block, str(PAGE), "exec")
        exec(code, namespace)
