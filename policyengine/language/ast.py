"""The tree of a condition. ``start`` and ``end`` are offsets into the condition's text;
``type`` is filled in by the checker."""

from __future__ import annotations

from dataclasses import dataclass

from policyengine.language.types import Type


@dataclass(frozen=True, slots=True)
class Node:
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Literal(Node):
    value: object
    type: Type
    #: The literal as written; addresses keep it so that tests can re-read them.
    text: str


@dataclass(frozen=True, slots=True)
class ListExpr(Node):
    items: tuple[Expr, ...]
    type: Type | None = None


@dataclass(frozen=True, slots=True)
class Path(Node):
    parts: tuple[str, ...]
    type: Type | None = None

    @property
    def dotted(self) -> str:
        return ".".join(self.parts)


@dataclass(frozen=True, slots=True)
class Call(Node):
    name: str
    args: tuple[Expr, ...]
    type: Type | None = None


@dataclass(frozen=True, slots=True)
class Not(Node):
    operand: Expr
    type: Type | None = None


@dataclass(frozen=True, slots=True)
class BoolOp(Node):
    op: str  # "and" | "or"
    operands: tuple[Expr, ...]
    type: Type | None = None


@dataclass(frozen=True, slots=True)
class Compare(Node):
    op: str  # == != < <= > >=
    left: Expr
    right: Expr
    type: Type | None = None


@dataclass(frozen=True, slots=True)
class Membership(Node):
    negated: bool
    left: Expr
    right: Expr
    type: Type | None = None


@dataclass(frozen=True, slots=True)
class Matches(Node):
    left: Expr
    right: Expr
    type: Type | None = None


@dataclass(frozen=True, slots=True)
class Arith(Node):
    operands: tuple[Expr, ...]
    ops: tuple[str, ...]  # "+" | "-", one fewer than operands
    type: Type | None = None


Expr = Literal | ListExpr | Path | Call | Not | BoolOp | Compare | Membership | Matches | Arith


def children(node: Expr) -> tuple[Expr, ...]:
    match node:
        case Literal() | Path():
            return ()
        case ListExpr(items=items):
            return items
        case Call(args=args):
            return args
        case Not(operand=operand):
            return (operand,)
        case BoolOp(operands=operands) | Arith(operands=operands):
            return operands
        case Compare(left=left, right=right) | Membership(left=left, right=right):
            return (left, right)
        case Matches(left=left, right=right):
            return (left, right)
    raise TypeError(f"not a condition node: {node!r}")


def paths(node: Expr) -> list[Path]:
    """Every attribute a condition reads, in no particular order."""
    found = []
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, Path):
            found.append(current)
        else:
            stack.extend(children(current))
    return found
