"""Condition text → tree, with errors that point at the offending character."""

from __future__ import annotations

import re
from functools import cache
from importlib import resources

from lark import Lark, Token, Transformer, Tree, v_args
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from policyengine import net
from policyengine.errors import InvalidValue, PolicyEngineError
from policyengine.language import ast
from policyengine.language.types import BOOL, CIDR, DURATION, IP, NUMBER, STRING
from policyengine.units import parse_duration

#: Longer conditions are refused before parsing, so that parsing time stays bounded.
MAX_LENGTH = 8192
#: Deeper trees are refused before they are walked, so that no walk can overflow the stack.
MAX_DEPTH = 48
#: Longer numbers are refused: no attribute holds one, and ``int()`` refuses 4,300 digits.
MAX_NUMBER_DIGITS = 18

_ESCAPES = {"\\": "\\", '"': '"', "'": "'", "n": "\n", "t": "\t", "r": "\r"}

_TERMINAL_NAMES = {
    "RPAR": "')'",
    "LPAR": "'('",
    "RSQB": "']'",
    "LSQB": "'['",
    "COMMA": "','",
    "DOT": "'.'",
    "NAME": "a name",
    "STRING": "a string",
    "NUMBER": "a number",
    "DURATION": "a duration",
    "IPV4": "an address",
    "IPV6": "an address",
    "COMPARE_OP": "a comparison",
    "ADD_OP": "'+' or '-'",
    "AND": "'and'",
    "OR": "'or'",
    "NOT": "'not'",
    "IN": "'in'",
    "MATCHES": "'matches'",
    "TRUE": "'true'",
    "FALSE": "'false'",
    "$END": "the end of the condition",
    "a value": "a value",
}


_VALUE_TERMINALS = frozenset(
    {"NAME", "STRING", "NUMBER", "DURATION", "IPV4", "IPV6", "TRUE", "FALSE", "LSQB", "LPAR"}
)


class ConditionError(PolicyEngineError):
    """A condition that does not parse or type-check; ``offset`` is where, in its text."""

    code = "condition_invalid"

    def __init__(self, offset: int, message: str) -> None:
        super().__init__(message)
        self.offset = offset
        self.message = message


@cache
def _parser() -> Lark:
    grammar = resources.files("policyengine.language").joinpath("grammar.lark").read_text()
    return Lark(
        grammar,
        parser="lalr",
        strict=True,
        propagate_positions=True,
        maybe_placeholders=True,
    )


def parse(source: str) -> ast.Expr:
    if len(source) > MAX_LENGTH:
        raise ConditionError(
            0,
            f"condition is {len(source):,} characters long; the limit is {MAX_LENGTH:,} "
            "(split it into several rules)",
        )
    if not source.strip():
        raise ConditionError(0, "empty condition")
    try:
        tree = _parser().parse(source)
    except UnexpectedInput as error:
        raise ConditionError(_offset(error, source), _describe(error, source)) from None
    _check_depth(tree)
    try:
        result: ast.Expr = _ToAst().transform(tree)
    except ConditionError:
        raise
    except Exception as error:  # a Transformer wraps our errors in VisitError
        cause = error.__context__
        if isinstance(cause, ConditionError):
            raise cause from None
        raise
    return result


def _check_depth(tree: Tree[Token]) -> None:
    stack: list[tuple[Tree[Token] | Token | None, int]] = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        if not isinstance(node, Tree):
            continue
        if depth > MAX_DEPTH:
            start = getattr(node.meta, "start_pos", 0)
            raise ConditionError(
                start, f"condition is nested more than {MAX_DEPTH} levels deep; simplify it"
            )
        stack.extend((child, depth + 1) for child in node.children)


def _offset(error: UnexpectedInput, source: str) -> int:
    if isinstance(error, UnexpectedEOF):
        return len(source)
    if isinstance(error, UnexpectedToken) and error.token.type == "$END":
        return len(source)
    pos = getattr(error, "pos_in_stream", None)
    return pos if isinstance(pos, int) else 0


def _describe(error: UnexpectedInput, source: str) -> str:
    if isinstance(error, UnexpectedCharacters):
        position = error.pos_in_stream or 0
        word = re.match(r"\d[\w.:/]*", source[position:])
        if word:
            return (
                f"invalid number or duration {word.group()!r} (durations are written 30d, "
                "15m or 1h30m; units: ms, s, m, h, d, w)"
            )
        return f"unexpected character {source[position]!r}"
    if isinstance(error, UnexpectedToken):
        found = "end of condition" if error.token.type == "$END" else repr(str(error.token))
        names = set(error.expected)
        if names & _VALUE_TERMINALS:
            names = (names - _VALUE_TERMINALS) | {"a value"}
        expected = sorted(_TERMINAL_NAMES.get(t, t) for t in names)
        hint = f" (expected {', '.join(expected)})" if expected else ""
        return f"unexpected {found}{hint}"
    return "unexpected end of condition"


def _unquote(token: Token) -> str:
    body, out, i = str(token)[1:-1], [], 0
    while i < len(body):
        char = body[i]
        if char == "\\":
            escaped = body[i + 1]
            if escaped not in _ESCAPES:
                raise ConditionError(
                    (token.start_pos or 0) + 1 + i, f"unknown escape '\\{escaped}' in a string"
                )
            out.append(_ESCAPES[escaped])
            i += 2
        else:
            out.append(char)
            i += 1
    return "".join(out)


def _span(token: Token) -> tuple[int, int]:
    start = token.start_pos or 0
    return start, start + len(token)


def _meta_span(meta: object) -> tuple[int, int]:
    return getattr(meta, "start_pos", 0), getattr(meta, "end_pos", 0)


@v_args(meta=True)
class _ToAst(Transformer[Token, ast.Expr]):
    def string(self, meta: object, children: list[Token]) -> ast.Literal:
        (token,) = children
        return ast.Literal(*_span(token), _unquote(token), STRING, str(token))

    def number(self, meta: object, children: list[Token]) -> ast.Literal:
        (token,) = children
        text = str(token)
        if len(text.partition(".")[0]) > MAX_NUMBER_DIGITS:
            raise ConditionError(
                token.start_pos or 0,
                f"number too large: at most {MAX_NUMBER_DIGITS} digits before the point",
            )
        value: int | float = float(text) if "." in text else int(text)
        return ast.Literal(*_span(token), value, NUMBER, text)

    def duration(self, meta: object, children: list[Token]) -> ast.Literal:
        (token,) = children
        try:
            seconds = parse_duration(str(token))
        except InvalidValue as error:
            raise ConditionError(token.start_pos or 0, str(error)) from None
        return ast.Literal(*_span(token), seconds, DURATION, str(token))

    def address(self, meta: object, children: list[Token]) -> ast.Literal:
        (token,) = children
        return address_literal(str(token), *_span(token))

    def true(self, meta: object, children: list[Token]) -> ast.Literal:
        return ast.Literal(*_meta_span(meta), True, BOOL, "true")

    def false(self, meta: object, children: list[Token]) -> ast.Literal:
        return ast.Literal(*_meta_span(meta), False, BOOL, "false")

    def list_(self, meta: object, children: list[ast.Expr | None]) -> ast.ListExpr:
        return ast.ListExpr(*_meta_span(meta), tuple(c for c in children if c is not None))

    def call(self, meta: object, children: list[Token | ast.Expr | None]) -> ast.Call:
        name, *args = children
        return ast.Call(
            *_meta_span(meta),
            str(name),
            tuple(a for a in args if isinstance(a, ast.Node)),
        )

    def path(self, meta: object, children: list[Token]) -> ast.Path:
        parts = tuple(_unquote(t) if t.type == "STRING" else str(t) for t in children)
        return ast.Path(*_meta_span(meta), parts)

    def not_(self, meta: object, children: list[ast.Expr]) -> ast.Not:
        return ast.Not(*_meta_span(meta), children[0])

    def and_(self, meta: object, children: list[ast.Expr]) -> ast.BoolOp:
        return ast.BoolOp(*_meta_span(meta), "and", tuple(children))

    def or_(self, meta: object, children: list[ast.Expr]) -> ast.BoolOp:
        return ast.BoolOp(*_meta_span(meta), "or", tuple(children))

    def compare(self, meta: object, children: list[ast.Expr | Token]) -> ast.Compare:
        left, op, right = children
        return ast.Compare(*_meta_span(meta), str(op), left, right)  # type: ignore[arg-type]

    def in_(self, meta: object, children: list[ast.Expr]) -> ast.Membership:
        return ast.Membership(*_meta_span(meta), False, children[0], children[1])

    def not_in(self, meta: object, children: list[ast.Expr]) -> ast.Membership:
        return ast.Membership(*_meta_span(meta), True, children[0], children[1])

    def matches(self, meta: object, children: list[ast.Expr]) -> ast.Matches:
        return ast.Matches(*_meta_span(meta), children[0], children[1])

    def arith(self, meta: object, children: list[ast.Expr | Token]) -> ast.Arith:
        operands = tuple(c for c in children if not isinstance(c, Token))
        ops = tuple(str(c) for c in children if isinstance(c, Token))
        return ast.Arith(*_meta_span(meta), operands, ops)


def address_literal(text: str, start: int, end: int) -> ast.Literal:
    """An IP (``10.0.0.1``) or CIDR (``10.0.0.0/8``) literal, checked now, not at run time."""
    try:
        if "/" in text:
            return ast.Literal(start, end, net.parse_network(text), CIDR, text)
        return ast.Literal(start, end, net.parse_ip(text), IP, text)
    except InvalidValue as error:
        raise ConditionError(start, str(error)) from None
