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


def _point(address: int) -> tuple[int, int]:
    """An address as the one-address network it is among networks."""
    return (address, address)


_RUNTIME: dict[str, object] = {
    "_glob": glob_matches,
    "_in_ranges": _in_ranges,
    "_point": _point,
    **{f"_f_{name}": b.impl for name, b in BUILTINS.items()},
}


class _Emitter:
    def __init__(self, probe: Probe | None) -> None:
        self.names: dict[str, object] = {}
        self.use(probe)

    def use(self, probe: Probe | None) -> None:
        """Probe what is emitted next with ``probe``: each condition of a rule has its own."""
        self.probe = probe
        self.hit = self.const(probe.hit) if probe is not None else ""

    def const(self, value: object) -> str:
        name = f"_k{len(self.names)}"
        self.names[name] = value
        return name

    def emit(self, node: ast.Expr) -> str:
        code = self._emit(node)
        if self.probe is not None and node.type == BOOL and not isinstance(node, ast.Literal):
            return f"{self.hit}({self.probe.register(node)}, {code})"
        return code

    def _emit(self, node: ast.Expr) -> str:
        match node:
            case ast.Literal(value=value):
                return self.const(value)
            case ast.ListExpr(items=items):
                if all(isinstance(i, ast.Literal) for i in items):
                    return self.const(tuple(_literal_range(i, node) for i in items))
                return "(" + "".join(f"{self.item(i, node)}, " for i in items) + ")"
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

    def item(self, item: ast.Expr, container: ast.ListExpr) -> str:
        """An item of a list that is not all literals: an address among networks (say
        ``request.ip`` in ``[request.ip, 10.0.0.0/8]``) becomes a one-address network."""
        code = self.emit(item)
        return f"_point({code})" if _among_networks(item, container) else code

    def path(self, node: ast.Path) -> str:
        attribute = ATTRIBUTES.get(node.dotted)
        if attribute is not None:
            return attribute.code
        source, _ = MAPS[".".join(node.parts[:-1])]
        return f"{source}.get({self.const(node.parts[-1])}, '')"

    def membership(self, left: ast.Expr, right: ast.Expr) -> str:
        value = self.emit(left)
        if right.type == CIDR:
            # A network is only ever written as a literal: no attribute or function gives one.
            assert isinstance(right, ast.Literal)
            first, last = cast(tuple[int, int], right.value)
            return f"({self.const(first)} <= {value} <= {self.const(last)})"
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


def _among_networks(item: ast.Expr, container: ast.ListExpr) -> bool:
    """Whether ``item`` is an address in a list of networks (the checker makes a list that
    mixes the two a list of networks)."""
    return container.type is not None and container.type.item == CIDR and item.type != CIDR


def _literal_range(item: ast.Expr, container: ast.ListExpr) -> object:
    """A literal's value; an address in a list of networks becomes a one-address network."""
    assert isinstance(item, ast.Literal)
    return (item.value, item.value) if _among_networks(item, container) else item.value


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
        emitter.use(probes[1])
        terms.append(f"not {emitter.emit(unless)}")
    body = " and ".join(terms) or "True"
    namespace: dict[str, object] = {"__builtins__": {}, **_RUNTIME, **emitter.names}
    code = compile(f"lambda key, req: {body}", f"<rule {name}>", "eval")
    function: Predicate = eval(code, namespace)  # noqa: S307 - source built from fixed tables
    return function
