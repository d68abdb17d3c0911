"""Syntax highlighting on the server, by Pygments (the highlighter Sphinx uses), so the
reference, the console and the docs colour code alike and the browser runs no highlighter.
The colours are the portal's own (``static/portal.css``), chosen for contrast in both
themes; Pygments only names the tokens."""

from __future__ import annotations

from functools import cache

from markupsafe import Markup
from pygments import highlight as pygmentize
from pygments.formatters import HtmlFormatter
from pygments.lexers import get_lexer_by_name


@cache
def _formatter() -> HtmlFormatter[str]:
    return HtmlFormatter(nowrap=True, classprefix="hl-")


def highlight(code: str, lexer: str) -> Markup:
    """``code`` as HTML spans; the caller wraps it in ``<pre><code>``."""
    html = pygmentize(code, get_lexer_by_name(lexer, stripnl=False, ensurenl=False), _formatter())
    return Markup(html)  # noqa: S704 - Pygments escapes the code it formats
