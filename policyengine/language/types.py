"""The types of the condition language. Every expression has one, known at load time."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Type:
    name: str
    item: Type | None = None

    def __str__(self) -> str:
        return f"list[{self.item}]" if self.item is not None else self.name

    @property
    def is_list(self) -> bool:
        return self.name == "list"


STRING = Type("string")
NUMBER = Type("number")
BOOL = Type("bool")
DURATION = Type("duration")
TIME = Type("time")
IP = Type("ip")
CIDR = Type("cidr")
#: The item type of the empty list ``[]``, which fits a list of anything.
NOTHING = Type("nothing")


def list_of(item: Type) -> Type:
    return Type("list", item)


def unify(a: Type, b: Type) -> Type | None:
    """The type two values share (for ``==`` or a list's items), or ``None``."""
    if a == b:
        return a
    if a == NOTHING:
        return b
    if b == NOTHING:
        return a
    if {a.name, b.name} == {"ip", "cidr"}:
        return CIDR
    if a.is_list and b.is_list:
        assert a.item is not None
        assert b.item is not None
        item = unify(a.item, b.item)
        return list_of(item) if item is not None else None
    return None


ORDERED = frozenset({STRING, NUMBER, DURATION, TIME})


def article(t: Type) -> str:
    """``a string``, ``an ip``, ``a list[string]``: a type named in a sentence."""
    text = str(t)
    return f"an {text}" if text[0] in "aeiou" else f"a {text}"
