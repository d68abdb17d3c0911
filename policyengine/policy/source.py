"""Reading policy YAML as nodes that remember where they were written.

``yaml.safe_load`` forgets positions, so files are composed into nodes and read through a
:class:`Reader` that records a diagnostic, with file, line and column, for every problem
instead of stopping at the first.
"""

from __future__ import annotations

import bisect
import difflib
import re
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any, TypeVar

import yaml

from policyengine.errors import Diagnostic, InvalidValue, Location
from policyengine.policy.files import MAX_FILE_BYTES

T = TypeVar("T")

STR = "tag:yaml.org,2002:str"
INT = "tag:yaml.org,2002:int"
FLOAT = "tag:yaml.org,2002:float"
BOOL = "tag:yaml.org,2002:bool"
NULL = "tag:yaml.org,2002:null"
TIMESTAMP = "tag:yaml.org,2002:timestamp"

_KIND = {
    STR: "a string",
    INT: "an integer",
    BOOL: "a boolean",
    NULL: "nothing (null)",
    TIMESTAMP: "a timestamp",
    FLOAT: "a number",
    "tag:yaml.org,2002:seq": "a list",
    "tag:yaml.org,2002:map": "a mapping",
}


#: libyaml's loader, when PyYAML was built with it.
FAST_LOADER: Any = getattr(yaml, "CSafeLoader", None)
# Control characters (PyYAML refuses all but tab, line feed and carriage return), tabs
# and question marks (where the two parsers disagree on what is allowed) leave a file to
# PyYAML.
_CONTROL = re.compile(r"[\x00-\x09\x0b\x0c\x0e-\x1f\x7f?]")

#: Deeper YAML is refused while it is parsed, before anything walks it recursively.
MAX_YAML_DEPTH = 64
#: Integers in policy files are at most this long (a year of microseconds has 14 digits).
MAX_INTEGER_DIGITS = 18


class Reader:
    """One policy file: its text, its node tree, and the diagnostics found so far."""

    def __init__(self, path: str, text: str, diagnostics: list[Diagnostic]) -> None:
        self.path = path
        self.text = text
        self.diagnostics = diagnostics
        self._line_starts = [0] + [i + 1 for i, c in enumerate(text) if c == "\n"]

    def compose(self) -> yaml.Node | None:
        """The document's root node; ``None`` (with a diagnostic) when it is not YAML.

        The events are read once first, which refuses aliases, and nesting deeper than
        :data:`MAX_YAML_DEPTH` as soon as it starts, before the (recursive) composer runs.
        """
        if len(self.text) > MAX_FILE_BYTES:
            message = f"the file is longer than {MAX_FILE_BYTES:,} characters"
            self.diagnostics.append(Diagnostic(Location.whole(self.path), message))
            return None
        if FAST_LOADER is not None and self.text.isascii() and not _CONTROL.search(self.text):
            # libyaml parses ten times as fast and gives the same nodes and positions. Its
            # offsets count bytes, which are characters in plain ASCII only; and its
            # messages differ, so a file it refuses is read again by PyYAML's own parser,
            # which words every diagnostic.
            try:
                return self._compose(FAST_LOADER)
            except yaml.YAMLError:
                pass
        return self._compose(yaml.SafeLoader)

    def _compose(self, loader: Any) -> yaml.Node | None:
        """:meth:`compose` with ``loader``; the fast loader raises where PyYAML's would
        record a diagnostic."""
        fast = loader is not yaml.SafeLoader
        try:
            depth = 0
            for event in yaml.parse(self.text, Loader=loader):
                # Where the two parsers disagree (tags, block scalars' headers), PyYAML
                # reads the file.
                if fast and (
                    getattr(event, "tag", None) is not None
                    or getattr(event, "style", None) in ("|", ">")
                ):
                    raise yaml.YAMLError("a tag or a block scalar")
                if isinstance(event, yaml.AliasEvent):
                    if fast:
                        raise yaml.YAMLError("an alias")
                    self.error_at(event.start_mark, "anchors and aliases are not allowed")
                    return None
                if isinstance(event, yaml.CollectionStartEvent):
                    depth += 1
                    if depth > MAX_YAML_DEPTH:
                        if fast:
                            raise yaml.YAMLError("too deep")
                        message = f"nested more than {MAX_YAML_DEPTH} levels deep"
                        self.error_at(event.start_mark, message)
                        return None
                elif isinstance(event, yaml.CollectionEndEvent):
                    depth -= 1
            documents = list(yaml.compose_all(self.text, Loader=loader))
            if fast and any(_has_empty_scalar(document) for document in documents):
                # libyaml places a value left empty elsewhere than PyYAML does.
                raise yaml.YAMLError("an empty value")
        except yaml.YAMLError as error:
            if fast:
                raise
            self._refused(error)
            return None
        return self._document(documents)

    def _refused(self, error: yaml.YAMLError) -> None:
        if isinstance(error, yaml.MarkedYAMLError):
            mark = error.problem_mark or error.context_mark
            problem = error.problem or error.context or "invalid YAML"
            self.error_at(mark, f"invalid YAML: {problem}")
        elif isinstance(error, yaml.reader.ReaderError):
            where = self.location_of_index(min(error.position, len(self.text)))
            self.diagnostics.append(
                Diagnostic(
                    where, f"invalid YAML: the character {chr(error.character)!r} is not allowed"
                )
                if isinstance(error.character, int)
                else Diagnostic(where, f"invalid YAML: {error.reason}")
            )
        else:
            self.diagnostics.append(Diagnostic(Location(self.path, 1, 1), f"invalid YAML: {error}"))

    def _document(self, documents: list[yaml.Node]) -> yaml.Node | None:
        if len(documents) > 1:
            self.diagnostics.append(
                Diagnostic(Location(self.path, 1, 1), "a policy file holds one YAML document")
            )
            return None
        if not documents:
            self.diagnostics.append(
                Diagnostic(Location(self.path, 1, 1), "the file is empty; it needs 'version: 1'")
            )
            return None
        return documents[0]

    # Positions.

    def location(self, node: yaml.Node) -> Location:
        return Location(self.path, node.start_mark.line + 1, node.start_mark.column + 1)

    def location_of_index(self, index: int) -> Location:
        line = bisect.bisect_right(self._line_starts, index) - 1
        return Location(self.path, line + 1, index - self._line_starts[line] + 1)

    def error(self, node: yaml.Node, message: str) -> None:
        self.diagnostics.append(Diagnostic(self.location(node), message))

    def error_at(self, mark: object, message: str) -> None:
        line, column = getattr(mark, "line", 0) + 1, getattr(mark, "column", 0) + 1
        self.diagnostics.append(Diagnostic(Location(self.path, line, column), message))

    def anchors(self, node: yaml.ScalarNode) -> tuple[tuple[int, int, int], ...]:
        """Where each part of a scalar's value stands in the file, as ``(offset, line, column)``.

        Folding, indentation and quoting change only white space, so the value's visible
        characters are matched one by one with the file's; an anchor is kept wherever the
        distance between them changes.
        """
        value, span = node.value, self.text[node.start_mark.index : node.end_mark.index]
        j = 0
        if node.style in ("|", ">"):
            j = span.find("\n") + 1
        elif node.style in ("'", '"'):
            j = 1
        anchors: list[tuple[int, int, int]] = []
        last_shift: tuple[int, int] | None = None
        for i, char in enumerate(value):
            if char.isspace():
                continue
            while j < len(span) and (span[j].isspace() or (span[j] == "\\" and node.style == '"')):
                j += 1
            if j >= len(span):
                break
            where = self.location_of_index(node.start_mark.index + j)
            shift = (where.line, where.column - i)
            if shift != last_shift:
                anchors.append((i, where.line, where.column))
                last_shift = shift
            j += 1
        return tuple(anchors)

    # Typed reads. Each returns ``None`` after recording a diagnostic.

    def kind(self, node: yaml.Node) -> str:
        return _KIND.get(node.tag, node.tag)

    def mapping(
        self, node: yaml.Node, what: str, allowed: Iterable[str] | None = None
    ) -> dict[str, tuple[yaml.Node, yaml.Node]] | None:
        if not isinstance(node, yaml.MappingNode):
            self.error(node, f"{what} must be a mapping, not {self.kind(node)}")
            return None
        allowed = list(allowed) if allowed is not None else None
        result: dict[str, tuple[yaml.Node, yaml.Node]] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag != STR:
                self.error(key_node, f"keys of {what} must be strings")
                continue
            name = key_node.value
            if name in result:
                first = self.location(result[name][0])
                self.error(
                    key_node, f"duplicate key '{name}' in {what} (first at line {first.line})"
                )
                continue
            if allowed is not None and name not in allowed:
                close = difflib.get_close_matches(name, allowed, n=1, cutoff=0.6)
                hint = (
                    f" (did you mean '{close[0]}'?)"
                    if close
                    else f"; expected one of: {', '.join(allowed)}"
                )
                self.error(key_node, f"unknown key '{name}' in {what}{hint}")
                continue
            result[name] = (key_node, value_node)
        return result

    def string(self, node: yaml.Node, what: str, *, empty: bool = False) -> str | None:
        if not isinstance(node, yaml.ScalarNode) or node.tag != STR:
            self.error(node, f"{what} must be a string, not {self.kind(node)}")
            return None
        if not empty and not node.value.strip():
            self.error(node, f"{what} must not be empty")
            return None
        return str(node.value)

    def sequence(self, node: yaml.Node, what: str) -> list[yaml.Node] | None:
        if not isinstance(node, yaml.SequenceNode):
            self.error(node, f"{what} must be a list, not {self.kind(node)}")
            return None
        return list(node.value)

    def strings(self, node: yaml.Node, what: str) -> list[tuple[str, yaml.Node]] | None:
        items = self.sequence(node, what)
        if items is None:
            return None
        out = []
        for item in items:
            text = self.string(item, f"each item of {what}")
            if text is not None:
                out.append((text, item))
        return out

    def integer(self, node: yaml.Node, what: str, minimum: int = 0) -> int | None:
        if not isinstance(node, yaml.ScalarNode) or node.tag != INT:
            self.error(node, f"{what} must be a whole number, not {self.kind(node)}")
            return None
        if len(node.value) > MAX_INTEGER_DIGITS:
            self.error(node, f"{what} is too large: at most {MAX_INTEGER_DIGITS} digits")
            return None
        value = int(yaml.safe_load(node.value))
        if value < minimum:
            self.error(node, f"{what} must be at least {minimum}, not {value}")
            return None
        return value

    def boolean(self, node: yaml.Node, what: str) -> bool | None:
        if (
            not isinstance(node, yaml.ScalarNode)
            or node.tag != BOOL
            or node.value
            not in (
                "true",
                "false",
            )
        ):
            self.error(node, f"{what} must be true or false")
            return None
        return bool(node.value == "true")

    def choice(self, node: yaml.Node, what: str, options: tuple[str, ...]) -> str | None:
        text = self.string(node, what)
        if text is not None and text not in options:
            self.error(node, f"{what} must be one of {', '.join(options)}, not '{text}'")
            return None
        return text

    def instant(self, node: yaml.Node, what: str) -> datetime | None:
        if not isinstance(node, yaml.ScalarNode) or node.tag not in (STR, TIMESTAMP):
            self.error(node, f"{what} must be an ISO 8601 instant, not {self.kind(node)}")
            return None
        try:
            value = datetime.fromisoformat(node.value.replace("Z", "+00:00"))
        except ValueError:
            value = None
        if value is None or value.tzinfo is None:
            self.error(
                node,
                f"{what} must be an ISO 8601 instant with its offset, such as "
                f"2026-11-27T12:00:00Z, not '{node.value}'",
            )
            return None
        return value

    def parsed(self, node: yaml.Node, what: str, parse: Callable[[str], T]) -> T | None:
        """A string parsed by ``parse``, whose :class:`InvalidValue` becomes a diagnostic."""
        text = self.string(node, what)
        if text is None:
            return None
        try:
            return parse(text)
        except InvalidValue as error:
            self.error(node, str(error))
            return None


def _has_empty_scalar(root: yaml.Node) -> bool:
    stack = [root]
    while stack:
        node = stack.pop()
        if isinstance(node, yaml.ScalarNode):
            if node.start_mark.index == node.end_mark.index:
                return True
        elif isinstance(node, yaml.SequenceNode):
            stack.extend(node.value)
        elif isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                stack.append(key)
                stack.append(value)
    return False
