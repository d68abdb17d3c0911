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
    "sphinx.ext.autodoc",
    "sphinx_design",
    "sphinx_copybutton",
    "pythonexamples",
    "apisamples",
    "ariacaptions",
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

# The Python API reference: signatures with their types, members in the code's order.
autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_class_signature = "separated"

# Types from the standard library and third-party packages have no page here (nothing is
# fetched from another site), nor have the internals that appear only in the signatures of
# constructors an application never calls (the engine builds its key manager and monitor).
nitpick_ignore_regex = [
    ("py:class", r"(collections\.abc|datetime|pathlib|typing|ipaddress|enum)\..*"),
    ("py:class", r"(datetime|timedelta|Path|Callable|Iterable|Mapping|Sequence|Any)"),
    ("py:class", r"(starlette|fastapi|jwt|redis|psycopg|prometheus_client)\..*"),
    ("py:class", r"policyengine\.(keys\.(store|hashing|format|lookup|invalidation))\..*"),
    ("py:class", r"policyengine\.monitor\.(store|metrics|capture)\..*"),
    ("py:class", r"policyengine\.monitor\.audit\.(Chain|AuditDraft)"),
    ("py:class", r"(RecordDecision|TokenService|policyengine\.monitor\.notices\.Subscribers)"),
    # How autodoc spells a tuple of any length in an attribute's type.
    ("py:class", r"tuple\[.*"),
]

# sphinx-build -b doctest: every page's Python examples, run in a fresh directory that
# holds the bundled policies, as a reader at the root of a checkout runs them.
python_examples_skip = [
    "portal",  # prints generated programs, which the page shows in tabs, not as output
    "tutorials/fastapi",
    "tutorials/instances",
    "tutorials/anomaly-alert",
    "tutorials/task-webhook",
]
_POLICIES = str(Path(__file__).resolve().parent.parent / "policies")
doctest_global_setup = f"""
import os as _os, tempfile as _tempfile
_before = _os.getcwd()
_here = _tempfile.mkdtemp(prefix="policyengine-doctest-")
_os.symlink({_POLICIES!r}, _os.path.join(_here, "policies"))
_os.chdir(_here)
_os.environ.pop("POLICYENGINE_SECRET", None)
"""
doctest_global_cleanup = """
import shutil as _shutil
_os.chdir(_before)
_shutil.rmtree(_here, ignore_errors=True)
"""
