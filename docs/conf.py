"""Sphinx configuration of the policyengine documentation."""

from __future__ import annotations

from pathlib import Path

from sphinx.application import Sphinx

project = "policyengine"
author = "the policyengine authors"
copyright = "the policyengine authors"

extensions = ["myst_parser"]
source_suffix = {".md": "markdown"}
exclude_patterns = ["_build"]

myst_enable_extensions = ["deflist"]
myst_heading_anchors = 3

html_theme = "furo"
html_title = "policyengine"
html_show_sourcelink = False

#: Pages the index lists in its toctree only once they exist in this directory.
OPTIONAL_PAGES = ("keys", "rate-limits")
DOCS = Path(__file__).parent


def _missing_pages() -> set[str]:
    return {page for page in OPTIONAL_PAGES if not (DOCS / f"{page}.md").exists()}


def _drop_missing_pages(app: Sphinx, docname: str, source: list[str]) -> None:
    if docname != "index":
        return
    missing = _missing_pages()
    lines = source[0].splitlines(keepends=True)
    source[0] = "".join(line for line in lines if line.strip() not in missing)


def _reread_index(
    app: Sphinx, env: object, added: set[str], changed: set[str], removed: set[str]
) -> list[str]:
    # The index's toctree depends on which optional pages exist, not only on its own text.
    return ["index"]


def setup(app: Sphinx) -> None:
    app.connect("source-read", _drop_missing_pages)
    app.connect("env-get-outdated", _reread_index)
