"""Glob patterns for ``matches``, matched without backtracking.

``*`` stands for any run of characters (none included) and ``?`` for exactly one; every
other character stands for itself. A pattern is cut at its stars into pieces: the first
piece must begin the text, the last must end it, and each piece between is found at its
leftmost place after the one before. Taking the leftmost place is never wrong (a later
place only leaves less text for the pieces after it), so nothing is ever tried twice.

A piece without ``?`` is found with ``str.find``, in time linear in the text. A piece
with ``?`` is found with a regular expression of literals and ``.`` only, which tries
each place once at a cost of at most its length. A whole match therefore costs at most
the text's length times the pattern's, and patterns are bounded by :data:`MAX_PATTERN`:
time linear in the input whatever the pattern. The patterns policies use (one star, no
``?``) cost a ``startswith`` and an ``endswith``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache
from operator import methodcaller

from policyengine.errors import InvalidValue

#: The longest pattern ``matches`` accepts, in characters.
MAX_PATTERN = 512

Matcher = Callable[[str], bool]


class _Piece:
    """The text between two stars: a literal, or literals and ``?``."""

    __slots__ = ("_regex", "size", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self.size = len(text)
        self._regex = (
            re.compile("".join("." if c == "?" else re.escape(c) for c in text), re.DOTALL)
            if "?" in text
            else None
        )

    def at(self, text: str, position: int) -> bool:
        """Whether the piece matches ``text`` at ``position`` (the caller checks the room)."""
        if self._regex is None:
            return text.startswith(self.text, position)
        return self._regex.match(text, position) is not None

    def find(self, text: str, start: int, end: int) -> int:
        """The leftmost place in ``text[start:end]`` where the piece matches, or -1."""
        if self._regex is None:
            return text.find(self.text, start, end)
        found = self._regex.search(text, start, end)
        return -1 if found is None else found.start()


def pattern_problem(pattern: str) -> str | None:
    if len(pattern) > MAX_PATTERN:
        return (
            f"a glob pattern may hold at most {MAX_PATTERN} characters; "
            f"this one holds {len(pattern)}"
        )
    return None


def compile_glob(pattern: str) -> Matcher:
    """A function telling whether a whole text matches ``pattern``."""
    problem = pattern_problem(pattern)
    if problem is not None:
        raise InvalidValue(problem)
    parts = pattern.split("*")
    if len(parts) == 1:
        if "?" not in pattern:
            return lambda text: text == pattern
        whole = _Piece(pattern)
        return lambda text: len(text) == whole.size and whole.at(text, 0)
    head, *middle, tail = parts
    least = len(head) + len(tail)
    if not any(middle) and "?" not in head + tail:
        if not tail:
            return methodcaller("startswith", head)
        if not head:
            return methodcaller("endswith", tail)
        return lambda text: len(text) >= least and text.startswith(head) and text.endswith(tail)
    first, last = _Piece(head), _Piece(tail)
    between = [_Piece(part) for part in middle if part]

    def matches(text: str) -> bool:
        end = len(text) - last.size
        if end < first.size or not first.at(text, 0) or not last.at(text, end):
            return False
        position = first.size
        for piece in between:
            found = piece.find(text, position, end)
            if found < 0:
                return False
            position = found + piece.size
        return True

    return matches


@lru_cache(maxsize=1024)
def _cached(pattern: str) -> Matcher:
    return compile_glob(pattern)


def glob_matches(text: str, pattern: str) -> bool:
    """``text matches pattern``, for a pattern known only at run time (an attribute).

    A pattern longer than :data:`MAX_PATTERN` raises :class:`InvalidValue`: the rule
    fails, and the request is denied."""
    return _cached(pattern)(text)
