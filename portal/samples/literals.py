"""Text as a string literal in each sample's language, so that any value — quotes,
backslashes, dollar signs, non-ASCII — reaches the server exactly as the model holds it."""

from __future__ import annotations

import json
from typing import Any


def shell(text: str) -> str:
    """POSIX shell: single quotes keep everything literal but a single quote."""
    return "'" + text.replace("'", "'\\''") + "'"


def double_quoted(text: str) -> str:
    """A double-quoted literal with JSON's escapes, which Python, JavaScript, Go and Java
    read the same way. JSON escapes every control character, never emits ``\\/``, and,
    without ``ensure_ascii``, no ``\\u`` escape that Java would read before lexing."""
    return json.dumps(text, ensure_ascii=False)


def single_quoted(text: str) -> str:
    """Ruby and PHP single quotes: only the backslash and the quote are special."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def go_string(text: str) -> str:
    """A raw string (backquotes) when it reads better and is exact, else a quoted one."""
    if "`" not in text and "\r" not in text and "\n" in text:
        return f"`{text}`"
    return double_quoted(text)


def pretty_json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, indent=2)


def python(value: Any, indent: int = 0) -> str:
    """A JSON value as a Python literal (``True``, ``None``), laid out like ``pretty_json``."""
    pad, inner = " " * indent, " " * (indent + 4)
    if isinstance(value, dict):
        if not value:
            return "{}"
        items = [
            f"{inner}{double_quoted(str(k))}: {python(v, indent + 4)}," for k, v in value.items()
        ]
        return "{\n" + "\n".join(items) + f"\n{pad}}}"
    if isinstance(value, list):
        if not value:
            return "[]"
        items = [f"{inner}{python(v, indent + 4)}," for v in value]
        return "[\n" + "\n".join(items) + f"\n{pad}]"
    if value is True:
        return "True"
    if value is False:
        return "False"
    if value is None:
        return "None"
    if isinstance(value, str):
        return double_quoted(value)
    return json.dumps(value)
