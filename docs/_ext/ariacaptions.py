"""Toctree captions ("Tutorials", "How-to guides", …) are headings to assistive
technology: Sphinx writes them as ``<p role="heading">`` without the ``aria-level`` that
role requires (axe-core: aria-required-attr). Give them one, in the page and in furo's
sidebar: level 2, under the page's or the site's title."""

from __future__ import annotations

from typing import Any

from sphinx.application import Sphinx

CAPTION = '<p class="caption" role="heading">'
FIXED = '<p class="caption" role="heading" aria-level="2">'


def add_levels(
    app: Sphinx, pagename: str, templatename: str, context: dict[str, Any], doctree: object
) -> None:
    for name in ("body", "furo_navigation_tree", "toctree"):
        value = context.get(name)
        if isinstance(value, str):
            context[name] = value.replace(CAPTION, FIXED)


def setup(app: Sphinx) -> dict[str, Any]:
    # After furo's own handler (priority 500), which computes the sidebar.
    app.connect("html-page-context", add_levels, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
