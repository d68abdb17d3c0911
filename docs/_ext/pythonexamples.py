"""``sphinx-build -b doctest`` runs the pages' Python examples as a reader runs them.

Every fenced ```python block of a page becomes a ``testcode`` of one group per page, so
the blocks of a page run in order in one namespace; a ```text block after a paragraph
that says ``prints`` is the ``testoutput`` of the block before it. Blocks written with the
``{code-block}`` directive are fragments shown for their shape and are not run, nor are
blocks another directive marks ``runnable=False`` (the API's code samples). Pages
listed in ``python_examples_skip`` are run elsewhere (the tutorials that need a shell are
followed by tests/docs/test_tutorials.py).
"""

from __future__ import annotations

from typing import Any

from docutils import nodes
from sphinx.application import Sphinx


def _says_prints(node: nodes.Element) -> bool:
    parent = node.parent
    if parent is None:
        return False
    index = parent.index(node)
    before = parent[index - 1] if index > 0 else None
    return isinstance(before, nodes.paragraph) and before.astext().strip() == "prints"


def mark_examples(app: Sphinx, doctree: nodes.document) -> None:
    docname = app.env.docname
    if docname in app.config.python_examples_skip:
        return
    for node in doctree.findall(nodes.literal_block):
        if not node.get("runnable", True):
            continue
        # The {code-block} directive records "force"; a Markdown fence does not.
        if node.get("language") == "python" and "force" not in node:
            kind = "testcode"
        elif node.get("language") == "text" and _says_prints(node):
            kind = "testoutput"
        else:
            continue
        node["testnodetype"] = kind
        node["groups"] = [docname]
        node["options"] = {}


def setup(app: Sphinx) -> dict[str, Any]:
    app.setup_extension("sphinx.ext.doctest")
    app.add_config_value("python_examples_skip", [], "env")
    app.connect("doctree-read", mark_examples)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
