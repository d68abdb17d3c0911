"""Sphinx configuration of the policyengine documentation."""

from __future__ import annotations

import sys
from pathlib import Path

# The local extensions (docs/_ext): code samples from the portal's generator.
sys.path.insert(0, str(Path(__file__).parent / "_ext"))

project = "policyengine"
author = "the policyengine authors"
copyright = "the policyengine authors"

extensions = [
    "myst_parser",
    "sphinx_design",
    "sphinx_copybutton",
]
source_suffix = {".md": "markdown"}
exclude_patterns = ["_build", "_ext"]

myst_enable_extensions = ["deflist", "colon_fence"]
myst_heading_anchors = 3

# Every reference must resolve (sphinx-build -n), so a renamed page or symbol breaks the build.
nitpicky = True

html_theme = "furo"
html_title = "policyengine"
html_show_sourcelink = False
html_static_path = ["_static"]
html_js_files = ["focusable-code.js"]

# Copy buttons copy only the commands: the "$ " prompt and the output that follows are left out.
copybutton_prompt_text = r"\$ |>>> |\.\.\. "
copybutton_prompt_is_regexp = True
copybutton_only_copy_prompt_lines = True
copybutton_exclude = ".linenos, .gp, .go"
