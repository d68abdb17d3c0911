"""Type-checking: every attribute, function and operator is known and used with the right
types, so that a condition that loads cannot fail while deciding."""

from __future__ import annotations

import difflib
from dataclasses import replace
from datetime import datetime

from policyengine.language import ast
from policyengine.language.builtins import BUILTINS
from policyengine.language.glob import pattern_problem
from policyengine.language.parser import ConditionError, address_literal
from policyengine.language.schema import ATTRIBUTES, MAPS, ROOTS
from policyengine.language.types import (
    BOOL,
    CIDR,
    DURATION,
    IP,
    NOTHING,
    NUMBER,
    ORDERED,
    STRING,
    TIME,
    Type,
    article,
    list_of,
    unify,
)


def check(tree: ast.Expr, headers: frozenset[str] = frozenset()) -> ast.Expr:
    """The tree with every node typed; raises :class:`ConditionError` at the first problem."""
    typed = _Checker(headers).visit(tree)
    if _type(typed) != BOOL:
        raise ConditionError(
            tree.start, f"a condition must be true or false, but this is {article(_type(typed))}"
        )
    return typed


def _type(node: ast.Expr) -> Type:
    assert node.type is not None
    return node.type


def suggest(name: str, candidates: list[str]) -> str:
    close = difflib.get_close_matches(name, candidates, n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _coerce(node: ast.Expr, target: Type | None) -> ast.Expr:
    """A quoted literal read as an address, network or instant where one is expected."""
    if target is None or not isinstance(node, ast.Literal) or node.type != STRING:
        return node
    text = str(node.value)
    if target in (IP, CIDR):
        return address_literal(text, node.start, node.end)
    if target == TIME:
        try:
            instant = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            instant = None
        if instant is None or instant.tzinfo is None:
            raise ConditionError(
                node.start,
                f"invalid time {text!r}: write an ISO 8601 instant with its offset, "
                "such as 2026-01-01T00:00:00Z",
            )
        return ast.Literal(node.start, node.end, instant.timestamp(), TIME, node.text)
    return node


class _Checker:
    def __init__(self, headers: frozenset[str]) -> None:
        self.headers = headers

    def visit(self, node: ast.Expr, hint: Type | None = None) -> ast.Expr:
        match node:
            case ast.Literal():
                return _coerce(node, hint)
            case ast.ListExpr():
                return self.list_(node, hint)
            case ast.Path():
                return self.path(node)
            case ast.Call():
                return self.call(node)
            case ast.Not():
                return replace(node, operand=self.boolean(node.operand, "not"), type=BOOL)
            case ast.BoolOp():
                operands = tuple(self.boolean(o, node.op) for o in node.operands)
                return replace(node, operands=operands, type=BOOL)
            case ast.Compare():
                return self.compare(node)
            case ast.Membership():
                return self.membership(node)
            case ast.Matches():
                left = self.expect(node.left, STRING, "matches")
                right = self.expect(node.right, STRING, "matches")
                if isinstance(right, ast.Literal):
                    problem = pattern_problem(str(right.value))
                    if problem is not None:
                        raise ConditionError(right.start, problem)
                return replace(node, left=left, right=right, type=BOOL)
            case ast.Arith():
                return self.arith(node)
        raise TypeError(f"not a condition node: {node!r}")

    def boolean(self, node: ast.Expr, operator: str) -> ast.Expr:
        return self.expect(node, BOOL, f"'{operator}'")

    def expect(self, node: ast.Expr, wanted: Type, where: str) -> ast.Expr:
        typed = self.visit(node, wanted)
        if _type(typed) != wanted:
            raise ConditionError(
                node.start, f"{where} needs {article(wanted)}, not {article(_type(typed))}"
            )
        return typed

    def list_(self, node: ast.ListExpr, hint: Type | None) -> ast.Expr:
        item_hint = hint.item if hint is not None and hint.is_list else hint
        items = [self.visit(i) for i in node.items]
        typed_hint = next((_type(i) for i in items if _type(i) in (IP, CIDR, TIME)), item_hint)
        items = [_coerce(i, typed_hint) for i in items]
        item_type = NOTHING
        for item in items:
            joined = unify(item_type, _type(item))
            if joined is None:
                raise ConditionError(
                    item.start,
                    f"a list's items must share one type; this is {article(_type(item))} "
                    f"among {item_type} items",
                )
            item_type = joined
        return replace(node, items=tuple(items), type=list_of(item_type))

    def path(self, node: ast.Path) -> ast.Expr:
        dotted = node.dotted
        if dotted in ATTRIBUTES:
            return replace(node, type=ATTRIBUTES[dotted].type)
        parent = ".".join(node.parts[:-1])
        if parent in MAPS:
            if parent == "request.headers" and node.parts[-1] not in self.headers:
                declared = ", ".join(sorted(self.headers)) or "none"
                name = node.parts[-1]
                hint = suggest(name, sorted(self.headers))
                if any(h.startswith(f"{name}-") for h in self.headers):
                    hint = f' (a name with "-" is written request.headers["{name}-…"])'
                raise ConditionError(
                    node.start,
                    f"header '{name}' is not declared; list it under 'headers:' "
                    f"in a policy file (declared: {declared})" + hint,
                )
            return replace(node, type=STRING)
        if dotted in MAPS:
            raise ConditionError(
                node.start,
                f"'{dotted}' is a map; read one entry, such as {dotted}.name or {dotted}[\"name\"]",
            )
        if node.parts[0] not in ROOTS:
            raise ConditionError(
                node.start,
                f"unknown name '{node.parts[0]}': conditions read key.*, request.* and "
                "resource.* (strings need quotes)" + suggest(node.parts[0], list(ROOTS)),
            )
        known = [*ATTRIBUTES, *(f"{m}.{{name}}" for m in MAPS)]
        raise ConditionError(node.start, f"unknown attribute '{dotted}'" + suggest(dotted, known))

    def call(self, node: ast.Call) -> ast.Expr:
        function = BUILTINS.get(node.name)
        if function is None:
            raise ConditionError(
                node.start, f"unknown function '{node.name}'" + suggest(node.name, list(BUILTINS))
            )
        args = tuple(self.visit(a) for a in node.args)
        result = function.result([_type(a) for a in args])
        if result is None:
            given = ", ".join(str(_type(a)) for a in args)
            raise ConditionError(
                node.start, f"{node.name}({given}) does not fit: {function.usage()}"
            )
        return replace(node, args=args, type=result)

    def compare(self, node: ast.Compare) -> ast.Expr:
        left = self.visit(node.left)
        right = self.visit(node.right, _type(left))
        left = _coerce(left, _type(right))
        lt, rt = _type(left), _type(right)
        if {lt.name, rt.name} == {"ip", "cidr"}:
            raise ConditionError(
                node.start, "an address is not equal to a network; test it with 'in'"
            )
        if node.op in ("==", "!="):
            if unify(lt, rt) is None:
                raise ConditionError(
                    node.start, f"cannot compare {article(lt)} with {article(rt)} using {node.op}"
                )
        elif lt != rt or lt not in ORDERED:
            raise ConditionError(
                node.start,
                f"cannot order {article(lt)} and {article(rt)} with {node.op}; "
                "order numbers, durations, times or strings of one kind",
            )
        return replace(node, left=left, right=right, type=BOOL)

    def membership(self, node: ast.Membership) -> ast.Expr:
        left = self.visit(node.left)
        lt = _type(left)
        wanted = CIDR if lt == IP else lt
        right = self.visit(
            node.right, list_of(wanted) if node.right.__class__ is ast.ListExpr else wanted
        )
        rt = _type(right)
        fits = (
            (rt.is_list and rt.item is not None and unify(lt, rt.item) in (lt, CIDR))
            or (lt == IP and rt == CIDR)
            or (lt == STRING and rt == STRING)
        )
        if lt == CIDR:
            # Whether a network lies within another is not something 'in' answers.
            fits = False
        if not fits:
            raise ConditionError(
                node.start,
                f"cannot test whether {article(lt)} is in {article(rt)}; 'in' takes a list of "
                "the same type, a network for an address, or a string for a substring",
            )
        return replace(node, left=left, right=right, type=BOOL)

    def arith(self, node: ast.Arith) -> ast.Expr:
        operands = [self.visit(o) for o in node.operands]
        if any(_type(o) in (TIME, DURATION) for o in operands):
            # A quoted instant beside a time or a duration is a time.
            operands = [_coerce(o, TIME) for o in operands]
        result = _type(operands[0])
        for op, operand in zip(node.ops, operands[1:], strict=True):
            combined = _ARITH.get((result, op, _type(operand)))
            if combined is None:
                verb = "add" if op == "+" else "subtract"
                raise ConditionError(
                    operand.start,
                    f"cannot {verb} {article(_type(operand))} "
                    f"{'to' if op == '+' else 'from'} {article(result)}",
                )
            result = combined
        return replace(node, operands=tuple(operands), type=result)


_ARITH: dict[tuple[Type, str, Type], Type] = {
    (NUMBER, "+", NUMBER): NUMBER,
    (NUMBER, "-", NUMBER): NUMBER,
    (DURATION, "+", DURATION): DURATION,
    (DURATION, "-", DURATION): DURATION,
    (TIME, "+", DURATION): TIME,
    (TIME, "-", DURATION): TIME,
    (TIME, "-", TIME): DURATION,
    (STRING, "+", STRING): STRING,
}
