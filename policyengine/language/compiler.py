"""Typed condition trees → Python functions, compiled once per policy set.

A rule's ``when``/``unless`` become the body of one ``lambda key, req: …``. Every value
from a policy file reaches that code as a named constant, never as source text, and names
come only from fixed tables, so nothing a policy author writes can inject code.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, cast

from policyengine.context import Context
from policyengine.language import ast
from policyengine.language.builtins import BUILTINS
from policyengine.language.glob import compile_glob, glob_matches
from policyengine.language.schema import ATTRIBUTES, MAPS
from policyengine.language.types import BOOL, CIDR
from policyengine.net import NetworkSet
from policyengine.record import KeyRecord

Predicate = Callable[[KeyRecord, Context], bool]


class Probe(Protocol):
    """Records which way each boolean sub-expression went (for policy-test coverage)."""

    def register(self, node: ast.Expr) -> int: ...

    def hit(self, branch: int, value: bool) -> bool: ...


def _in_ranges(address: int, ranges: tuple[tuple[int, int], ...]) -> bool:
    return any(first <= address <= last for first, last in ranges)


def _in_range(address: int, network: tuple[int, int]) -> bool:
    return network[0] <= address <= network[1]


_RUNTIME: dict[str, object] = {
    "_glob": glob_matches,
    "_in_ranges": _in_ranges,
    "_in_range": _in_range,
    **{f"_f_{name}": b.impl for name, b in BUILTINS.items()},
}


class _Emitter:
    def __init__(self, probe: Probe | None) -> None:
        self.names: dict[str, object] = {}
        self.probe = probe

    def const(self, value: object) -> str:
        name = f"_k{len(self.names)}"
        self.names[name] = value
        return name

    def emit(self, node: ast.Expr) -> str:
        code = self._emit(node)
        if self.probe is not None and node.type == BOOL and not isinstance(node, ast.Literal):
            branch = self.probe.register(node)
            self.names.setdefault("_cov", self.probe.hit)
            return f"_cov({branch}, {code})"
        return code

    def _emit(self, node: ast.Expr) -> str:
        match node:
            case ast.Literal(value=value):
                return self.const(value)
            case ast.ListExpr(items=items):
                if all(isinstance(i, ast.Literal) for i in items):
                    return self.const(tuple(_literal_range(i, node) for i in items))
                return "(" + "".join(f"{self.emit(i)}, " for i in items) + ")"
            case ast.Path():
                return self.path(node)
            case ast.Call(name=name, args=args):
                return f"_f_{name}({', '.join(self.emit(a) for a in args)})"
            case ast.Not(operand=operand):
                return f"(not {self.emit(operand)})"
            case ast.BoolOp(op=op, operands=operands):
                return "(" + f" {op} ".join(self.emit(o) for o in operands) + ")"
            case ast.Compare(op=op, left=left, right=right):
                return f"({self.emit(left)} {op} {self.emit(right)})"
            case ast.Membership(negated=negated, left=left, right=right):
                test = self.membership(left, right)
                return f"(not {test})" if negated else test
            case ast.Matches(left=left, right=right):
                if isinstance(right, ast.Literal):
                    return f"{self.const(compile_glob(str(right.value)))}({self.emit(left)})"
                return f"_glob({self.emit(left)}, {self.emit(right)})"
            case ast.Arith(operands=operands, ops=ops):
                code = self.emit(operands[0])
                for op, operand in zip(ops, operands[1:], strict=True):
                    code += f" {op} {self.emit(operand)}"
                return f"({code})"
        raise TypeError(f"not a condition node: {node!r}")

    def path(self, node: ast.Path) -> str:
        attribute = ATTRIBUTES.get(node.dotted)
        if attribute is not None:
            return attribute.code
        source, _ = MAPS[".".join(node.parts[:-1])]
        return f"{source}.get({self.const(node.parts[-1])}, '')"

    def membership(self, left: ast.Expr, right: ast.Expr) -> str:
        value = self.emit(left)
        if right.type == CIDR:
            if isinstance(right, ast.Literal):
                first, last = cast(tuple[int, int], right.value)
                return f"({self.const(first)} <= {value} <= {self.const(last)})"
            return f"_in_range({value}, {self.emit(right)})"
        if isinstance(right, ast.ListExpr) and all(isinstance(i, ast.Literal) for i in right.items):
            assert right.type is not None
            if right.type.item == CIDR:
                networks = NetworkSet(_literal_range(i, right) for i in right.items)  # type: ignore[misc]
                return f"({value} in {self.const(networks)})"
            items = frozenset(i.value for i in right.items)  # type: ignore[union-attr]
            return f"({value} in {self.const(items)})"
        assert right.type is not None
        if right.type.is_list and right.type.item == CIDR:
            return f"_in_ranges({value}, {self.emit(right)})"
        return f"({value} in {self.emit(right)})"


def _literal_range(item: ast.Expr, container: ast.ListExpr) -> object:
    """A literal's value; an address in a list of networks becomes a one-address network."""
    assert isinstance(item, ast.Literal)
    if container.type is not None and container.type.item == CIDR and item.type != CIDR:
        return (item.value, item.value)
    return item.value


def compile_predicate(
    when: ast.Expr | None,
    unless: ast.Expr | None,
    name: str,
    probes: tuple[Probe | None, Probe | None] = (None, None),
) -> Predicate:
    """``when and not unless`` as one function of ``(key, req)``; ``probes``, one for each
    condition, record the branches they take."""
    emitter = _Emitter(probes[0])
    terms = []
    if when is not None:
        terms.append(emitter.emit(when))
    if unless is not None:
        emitter.probe = probes[1]
        terms.append(f"not {emitter.emit(unless)}")
    body = " and ".join(terms) or "True"
    namespace: dict[str, object] = {"__builtins__": {}, **_RUNTIME, **emitter.names}
    code = compile(f"lambda key, req: {body}", f"<rule {name}>", "eval")
    function: Predicate = eval(code, namespace)  # noqa: S307 - source built from fixed tables
    return function
