"""The RFC 7239 ``Forwarded`` header, read as the RFC writes it.

A header is a comma-separated list of elements, one per proxy hop; an element is
``;``-separated ``name=value`` pairs, where a value is a token or a quoted string. A
comma or semicolon inside quotes belongs to the value, so ``for="a,for=b"`` is one hop
whose node is ``a,for=b`` (not an address), never two hops. Empty elements are skipped, as
every HTTP list allows; anything else that does not parse makes the whole header
malformed, since its hops can no longer be told apart.

A ``for=`` node is ``address[:port]``: IPv4 bare, IPv6 in brackets, the port a number or
an obfuscated ``_name``. ``unknown`` and obfuscated nodes (``_hidden``) name no address.
"""

from __future__ import annotations

import re

from policyengine.errors import InvalidValue

_TCHARS = r"[!#$%&'*+.^_`|~0-9A-Za-z-]+"
# qdtext and quoted-pair of RFC 9110: any visible or obs-text byte, space and tab.
_QUOTED = r'"(?:[\t \x21\x23-\x5b\x5d-\x7e\x80-\xff]|\\[\t \x21-\x7e\x80-\xff])*"'
_ITEM = re.compile(
    rf"[ \t]*(?:(?P<name>{_TCHARS})=(?P<value>{_TCHARS}|{_QUOTED})[ \t]*)?(?P<end>[,;]|\Z)"
)
_ESCAPE = re.compile(r"\\(.)", re.DOTALL)
_OBFUSCATED = r"_[A-Za-z0-9._-]+"
_NODE = re.compile(
    rf"(?:\[(?P<v6>[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*)\]|(?P<v4>[0-9.]+)|(?P<hidden>unknown|{_OBFUSCATED}))"
    rf"(?::(?:[0-9]{{1,5}}|{_OBFUSCATED}))?",
    re.IGNORECASE,
)


def forwarded_nodes(value: str) -> list[str]:
    """The ``for=`` node of each element, left to right, unquoted; ``""`` for an element
    that has none. :class:`InvalidValue` if the header does not parse."""
    nodes: list[str] = []
    pairs: dict[str, str] = {}
    position = 0
    while True:
        item = _ITEM.match(value, position)
        if item is None:
            raise InvalidValue(
                f"the Forwarded header does not parse at character {position + 1}: "
                f"{value[position : position + 20]!r}"
            )
        name = item["name"]
        if name is not None:
            name = name.lower()
            if name in pairs:
                raise InvalidValue(f"the Forwarded header repeats '{name}' in one element")
            pairs[name] = _unquote(item["value"])
        if item["end"] != ";":
            if pairs:
                nodes.append(pairs.get("for", ""))
            pairs = {}
        if not item["end"]:
            return nodes
        position = item.end()


def node_host(node: str) -> str:
    """The address a ``for=`` node names, without brackets or port; :class:`InvalidValue`
    for a node that names none (malformed, ``unknown`` or obfuscated)."""
    if not node:
        raise InvalidValue("a hop of the Forwarded header names no client (it has no for=)")
    shape = _NODE.fullmatch(node)
    if shape is None:
        raise InvalidValue(f"the Forwarded header names the client {node!r}, not an address")
    if shape["hidden"] is not None:
        raise InvalidValue(
            f"the Forwarded header names the client {node!r}: an unknown or obfuscated "
            "client cannot be checked against networks"
        )
    return shape["v6"] if shape["v6"] is not None else shape["v4"]


def _unquote(value: str) -> str:
    if value.startswith('"'):
        return _ESCAPE.sub(r"\1", value[1:-1])
    return value
