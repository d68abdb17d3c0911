"""Sphinx configuration of the policyengine documentation."""

from __future__ import annotations

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
html_static_path = ["_static"]
html_js_files = ["focusable-code.js"]
