"""llama.cpp GBNF grammars as data: parse text into rules, print rules back, rename and merge.

Every constraint compiles to GBNF because that is what the local backend masks tokens with.
Having the grammar as a small AST (not only as text) lets a `Sequence` rename the rules of its
parts and glue them together, and lets `GrammarMatcher` test membership without llama.cpp.

The parser follows llama.cpp's ``llama-grammar.cpp`` closely, so a grammar accepted here is
accepted there: rule names are ``[a-zA-Z0-9-]+``, a rule ends at a newline unless inside
parentheses or after ``|``, ``#`` starts a comment, escapes are ``\\x \\u \\U \\t \\r \\n \\\\ \\" \\[ \\] \\-``.
Why our own: llama-cpp-python hands grammar text straight to C++ and gives back no parsed form.

>>> g = parse_gbnf('root ::= "a" [0-9]+ | item\\nitem ::= "b"?')
>>> print(format_gbnf(g))
root ::= "a" [0-9]+ | item
item ::= "b"?
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from ..errors import ConstraintError

__all__ = [
    "MAX_REPETITION",
    "Alt",
    "CharSet",
    "Expr",
    "Literal",
    "Ref",
    "Repeat",
    "Rules",
    "Seq",
    "any_char",
    "format_char_set",
    "format_gbnf",
    "format_literal",
    "is_rule_name",
    "parse_gbnf",
    "rename_rules",
]

# llama.cpp refuses a minimum above this, and silently drops a maximum above it.
MAX_REPETITION = 2000


@dataclass(frozen=True)
class Literal:
    """A fixed string, ``"abc"``."""

    text: str


@dataclass(frozen=True)
class CharSet:
    """One character from inclusive code-point ranges (``[a-z]``), or from outside them (``[^a-z]``)."""

    ranges: tuple[tuple[int, int], ...]
    negated: bool = False

    def contains(self, ch: str) -> bool:
        code = ord(ch)
        return any(lo <= code <= hi for lo, hi in self.ranges) != self.negated


@dataclass(frozen=True)
class Ref:
    """A reference to another rule by name."""

    name: str


@dataclass(frozen=True)
class Seq:
    """Items one after the other; the empty sequence matches the empty string."""

    items: tuple[Expr, ...]


@dataclass(frozen=True)
class Alt:
    """One of several sequences (a parenthesized group when nested)."""

    options: tuple[Expr, ...]


@dataclass(frozen=True)
class Repeat:
    """``item{min,max}``; ``max=None`` is unbounded (``*``, ``+``, ``{m,}``)."""

    item: Expr
    min: int
    max: int | None


Expr = Literal | CharSet | Ref | Seq | Alt | Repeat
Rules = dict[str, Expr]


def any_char() -> CharSet:
    """The ``.`` of GBNF: any single character."""
    return CharSet((), negated=True)


def is_rule_name(name: str) -> bool:
    """Whether ``name`` is a valid GBNF rule name (letters, digits and ``-``; no ``_``)."""
    return bool(name) and all(c == "-" or (c.isascii() and c.isalnum()) for c in name)


# ---------------------------------------------------------------- printing

_LITERAL_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _hex_char(code: int) -> str:
    if code <= 0xFF:
        return f"\\x{code:02X}"
    if code <= 0xFFFF:
        return f"\\u{code:04X}"
    return f"\\U{code:08X}"


def format_literal(text: str) -> str:
    """``text`` as a GBNF string literal; non-printable and non-ASCII characters become hex escapes."""
    out = []
    for ch in text:
        if ch in _LITERAL_ESCAPES:
            out.append(_LITERAL_ESCAPES[ch])
        elif " " <= ch <= "~":
            out.append(ch)
        else:
            out.append(_hex_char(ord(ch)))
    return '"' + "".join(out) + '"'


def _class_char(code: int) -> str:
    ch = chr(code)
    if ch.isascii() and ch.isalnum():
        return ch
    if ch in " !#$%&'()*+,./:;<=>?@_`{|}~":
        return ch
    return _hex_char(code)  # covers - ^ ] [ \ " and everything non-printable


def format_char_set(cs: CharSet) -> str:
    """``cs`` as a GBNF character class (``.`` for any character)."""
    if cs.negated and not cs.ranges:
        return "."
    parts = []
    for lo, hi in cs.ranges:
        if lo == hi:
            parts.append(_class_char(lo))
        elif hi == lo + 1:
            parts.append(_class_char(lo) + _class_char(hi))
        else:
            parts.append(f"{_class_char(lo)}-{_class_char(hi)}")
    return "[" + ("^" if cs.negated else "") + "".join(parts) + "]"


def _format(expr: Expr, *, atomic: bool) -> str:
    if isinstance(expr, Literal):
        return format_literal(expr.text)
    if isinstance(expr, CharSet):
        return format_char_set(expr)
    if isinstance(expr, Ref):
        return expr.name
    if isinstance(expr, Repeat):
        inner = _format(expr.item, atomic=True)
        lo, hi = expr.min, expr.max
        suffix = {(0, None): "*", (1, None): "+", (0, 1): "?"}.get((lo, hi))
        if suffix is None:
            suffix = f"{{{lo}}}" if lo == hi else f"{{{lo},{'' if hi is None else hi}}}"
        return inner + suffix
    if isinstance(expr, Seq):
        items = _flatten(expr)
        if not items:
            return '""'
        text = " ".join(_format(item, atomic=True) for item in items)
        return f"({text})" if atomic and len(items) > 1 else text
    text = " | ".join(_format(option, atomic=False) for option in expr.options)
    return f"({text})" if atomic else text


def _flatten(seq: Seq) -> list[Expr]:
    """The items of ``seq`` with nested sequences spliced in (concatenation is associative)."""
    out: list[Expr] = []
    for item in seq.items:
        out.extend(_flatten(item) if isinstance(item, Seq) else [item])
    return out


def format_gbnf(rules: Mapping[str, Expr]) -> str:
    """Rules as GBNF text, one rule per line, in the mapping's order."""
    return "\n".join(f"{name} ::= {_format(body, atomic=False)}" for name, body in rules.items())


def rename_rules(rules: Mapping[str, Expr], rename: Callable[[str], str]) -> Rules:
    """A copy of ``rules`` with every rule name (definitions and references) passed through ``rename``."""

    def walk(expr: Expr) -> Expr:
        if isinstance(expr, Ref):
            return Ref(rename(expr.name))
        if isinstance(expr, Seq):
            return Seq(tuple(walk(i) for i in expr.items))
        if isinstance(expr, Alt):
            return Alt(tuple(walk(i) for i in expr.options))
        if isinstance(expr, Repeat):
            return Repeat(walk(expr.item), expr.min, expr.max)
        return expr

    return {rename(name): walk(body) for name, body in rules.items()}


# ---------------------------------------------------------------- parsing

_SIMPLE_ESCAPES = {"t": "\t", "r": "\r", "n": "\n", "\\": "\\", '"': '"', "[": "[", "]": "]", "-": "-"}


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def fail(self, message: str) -> ConstraintError:
        line = self.text.count("\n", 0, self.pos) + 1
        snippet = self.text[self.pos : self.pos + 20]
        return ConstraintError(
            f"invalid GBNF grammar: {message} at line {line} ({snippet!r})",
            hint="rules look like `name ::= \"text\" [a-z]+ other-rule`; names use letters, digits and '-'",
        )

    def peek(self, k: int = 0) -> str:
        i = self.pos + k
        return self.text[i] if i < len(self.text) else ""

    def space(self, newline_ok: bool) -> None:
        while True:
            c = self.peek()
            if c in (" ", "\t") or (newline_ok and c in ("\r", "\n")):
                self.pos += 1
            elif c == "#":
                while self.peek() not in ("", "\r", "\n"):
                    self.pos += 1
            else:
                return

    def name(self) -> str:
        start = self.pos
        while self.peek() and is_rule_name(self.peek()):
            self.pos += 1
        if self.pos == start:
            raise self.fail("expected a rule name")
        return self.text[start : self.pos]

    def integer(self) -> int:
        start = self.pos
        while self.peek().isascii() and self.peek().isdigit():
            self.pos += 1
        if self.pos == start:
            raise self.fail("expected an integer")
        return int(self.text[start : self.pos])

    def char(self) -> str:
        c = self.peek()
        if not c:
            raise self.fail("unexpected end of input")
        if c != "\\":
            self.pos += 1
            return c
        kind = self.peek(1)
        if kind in _SIMPLE_ESCAPES:
            self.pos += 2
            return _SIMPLE_ESCAPES[kind]
        size = {"x": 2, "u": 4, "U": 8}.get(kind)
        if size is None:
            raise self.fail("unknown escape")
        digits = self.text[self.pos + 2 : self.pos + 2 + size]
        if len(digits) != size or any(d not in "0123456789abcdefABCDEF" for d in digits):
            raise self.fail(f"expected {size} hex digits")
        self.pos += 2 + size
        code = int(digits, 16)
        if code > 0x10FFFF:
            raise self.fail("code point out of range")
        return chr(code)

    def alternates(self, nested: bool) -> Expr:
        options = [self.sequence(nested)]
        while self.peek() == "|":
            self.pos += 1
            self.space(True)
            options.append(self.sequence(nested))
        return options[0] if len(options) == 1 else Alt(tuple(options))

    def sequence(self, nested: bool) -> Expr:
        items: list[Expr] = []
        while True:
            c = self.peek()
            if c == '"':
                self.pos += 1
                chars = []
                while self.peek() != '"':
                    chars.append(self.char())
                self.pos += 1
                items.append(Literal("".join(chars)))
            elif c == "[":
                self.pos += 1
                negated = self.peek() == "^"
                self.pos += negated
                ranges = []
                while self.peek() != "]":
                    lo = self.char()
                    hi = lo
                    if self.peek() == "-" and self.peek(1) not in ("]", ""):
                        self.pos += 1
                        hi = self.char()
                    ranges.append((ord(lo), ord(hi)))
                self.pos += 1
                items.append(CharSet(tuple(ranges), negated))
            elif c and is_rule_name(c):
                items.append(Ref(self.name()))
            elif c == "(":
                self.pos += 1
                self.space(True)
                inner = self.alternates(nested=True)
                if self.peek() != ")":
                    raise self.fail("expected ')'")
                self.pos += 1
                items.append(inner if not isinstance(inner, Seq) or len(inner.items) != 1 else inner.items[0])
            elif c == ".":
                self.pos += 1
                items.append(any_char())
            elif c in ("*", "+", "?", "{"):
                if not items:
                    raise self.fail(f"'{c}' has nothing to repeat")
                self.pos += 1
                if c == "{":
                    items[-1] = self.braces(items[-1], nested)
                else:
                    bounds: dict[str, tuple[int, int | None]] = {"*": (0, None), "+": (1, None), "?": (0, 1)}
                    items[-1] = Repeat(items[-1], *bounds[c])
            elif c in ("<", "!"):
                raise self.fail("token references (<...>) are not supported")
            else:
                return items[0] if len(items) == 1 else Seq(tuple(items))
            self.space(nested)

    def braces(self, item: Expr, nested: bool) -> Expr:
        self.space(nested)
        lo = self.integer()
        self.space(nested)
        hi: int | None = lo
        if self.peek() == ",":
            self.pos += 1
            self.space(nested)
            hi = self.integer() if self.peek().isascii() and self.peek().isdigit() else None
            self.space(nested)
        if self.peek() != "}":
            raise self.fail("expected '}'")
        self.pos += 1
        if lo > MAX_REPETITION:
            raise self.fail(f"llama.cpp allows at most {MAX_REPETITION} repetitions")
        if hi is not None and hi > MAX_REPETITION:
            hi = None  # what llama.cpp does with a larger maximum
        return Repeat(item, lo, hi)

    def grammar(self) -> Rules:
        rules: Rules = {}
        self.space(True)
        while self.pos < len(self.text):
            name = self.name()
            self.space(False)
            if self.text[self.pos : self.pos + 3] != "::=":
                raise self.fail("expected '::='")
            self.pos += 3
            self.space(True)
            body = self.alternates(nested=False)
            if self.peek() == "\r":
                self.pos += 2 if self.peek(1) == "\n" else 1
            elif self.peek() == "\n":
                self.pos += 1
            elif self.peek():
                raise self.fail("expected a newline or the end")
            if name in rules:
                raise self.fail(f"rule {name!r} is defined twice")
            rules[name] = body
            self.space(True)
        return rules


def parse_gbnf(text: str) -> Rules:
    """Parse GBNF text into ``{rule name: expression}``, in definition order.

    Raises `ConstraintError` on a syntax error or a reference to an undefined rule.

    >>> parse_gbnf('root ::= "hi" | [0-9]')
    {'root': Alt(options=(Literal(text='hi'), CharSet(ranges=((48, 57),), negated=False)))}
    """
    rules = _Parser(text).grammar()
    for name, body in rules.items():
        for ref in _refs(body):
            if ref not in rules:
                raise ConstraintError(
                    f"invalid GBNF grammar: rule {name!r} refers to undefined rule {ref!r}",
                    hint=f"define it with `{ref} ::= ...`",
                )
    return rules


def _refs(expr: Expr) -> list[str]:
    if isinstance(expr, Ref):
        return [expr.name]
    if isinstance(expr, Seq):
        return [r for i in expr.items for r in _refs(i)]
    if isinstance(expr, Alt):
        return [r for i in expr.options for r in _refs(i)]
    if isinstance(expr, Repeat):
        return _refs(expr.item)
    return []
