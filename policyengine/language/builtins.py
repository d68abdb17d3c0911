"""The functions conditions may call. Each registers itself with its signature, so the
checker knows its type and the compiler its implementation. Every one is total: given
arguments of the right types it returns, it never raises."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from policyengine.language.types import BOOL, NUMBER, STRING, Type

_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True, slots=True)
class Builtin:
    name: str
    #: Each accepted argument list, with the result type it gives.
    signatures: tuple[tuple[tuple[str, ...], Type], ...]
    impl: Callable[..., object]
    doc: str

    def result(self, args: list[Type]) -> Type | None:
        kinds = tuple("list" if a.is_list else a.name for a in args)
        for params, result in self.signatures:
            if len(params) == len(kinds) and all(
                p == k for p, k in zip(params, kinds, strict=True)
            ):
                return result
        return None

    def usage(self) -> str:
        return " or ".join(
            f"{self.name}({', '.join(params)}) → {result}" for params, result in self.signatures
        )


BUILTINS: dict[str, Builtin] = {}


def builtin(
    *signatures: tuple[tuple[str, ...], Type], doc: str
) -> Callable[[Callable[..., object]], Callable[..., object]]:
    def register(impl: Callable[..., object]) -> Callable[..., object]:
        name = impl.__name__.rstrip("_")
        BUILTINS[name] = Builtin(name, signatures, impl, doc)
        return impl

    return register


@builtin(
    (("string",), NUMBER),
    (("list",), NUMBER),
    doc="the number of characters in a string, or of items in a list",
)
def len_(value: str | tuple[object, ...]) -> int:
    return len(value)


@builtin((("string",), STRING), doc="the string in lower case")
def lower(value: str) -> str:
    return value.lower()


@builtin((("string",), STRING), doc="the string in upper case")
def upper(value: str) -> str:
    return value.upper()


@builtin((("string", "string"), BOOL), doc="whether the first string begins with the second")
def startswith(value: str, prefix: str) -> bool:
    return value.startswith(prefix)


@builtin((("string", "string"), BOOL), doc="whether the first string ends with the second")
def endswith(value: str, suffix: str) -> bool:
    return value.endswith(suffix)


@builtin((("time",), NUMBER), doc="the hour of the day, 0 to 23, in UTC")
def hour(value: float) -> int:
    return int(value // 3600 % 24)


@builtin(
    (("time",), STRING),
    doc='the day of the week in UTC: ``"mon"``, ``"tue"``, … ``"sun"``',
)
def weekday(value: float) -> str:
    # 1970-01-01, day 0 of the epoch, was a Thursday.
    return _WEEKDAYS[int((value // 86400 + 3) % 7)]


@builtin((("ip",), BOOL), doc="whether the address is IPv4 (or IPv4-mapped IPv6)")
def is_ipv4(value: int) -> bool:
    return value >> 32 == 0xFFFF
