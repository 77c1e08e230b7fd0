"""Compile a Python regular expression to a GBNF expression that accepts the same strings.

Python's own regex parser is private (``re._parser``), so this is a small parser for the subset
that describes a language without looking around: literals and escapes, classes (``[a-z]``,
``[^"]``, ``\\d \\w \\s`` and their negations, with Python's Unicode meaning unless ``(?a)``),
``.``, groups, alternation, ``? * + {m} {m,} {m,n}`` (lazy forms mean the same under full
match), and ``^``/``$``/``\\A``/``\\Z`` at the very ends, where full match makes them no-ops.
Anything else (look-around, back-references, ``\\b``, ``(?i)``, possessive quantifiers) raises
`ConstraintError`, since a grammar cannot express it exactly.

Why our own: no library turns a Python regex into GBNF. llama-cpp-python's JSON-schema
converter has a pattern translator, but only for anchored patterns and it writes ``\\d`` or
``\\.`` as GBNF escapes (see `json_llama`); regex libraries build automata, not grammars.

>>> from trace_opt.constraints.gbnf import format_gbnf
>>> print(format_gbnf(regex_to_rules("(ab|c)+[0-9]?")))
root ::= group1+ [0-9]?
group1 ::= "ab" | "c"
"""

from __future__ import annotations

import functools
import re
import unicodedata

from ..errors import ConstraintError
from .gbnf import MAX_REPETITION, Alt, CharSet, Expr, Literal, Ref, Repeat, Rules, Seq

__all__ = ["regex_to_rules"]

_MAX_CODE = 0x10FFFF
_Ranges = tuple[tuple[int, int], ...]


@functools.cache
def _category(name: str, ascii_only: bool) -> _Ranges:
    """Code-point ranges of ``\\d``, ``\\w`` or ``\\s`` exactly as Python's ``re`` sees them."""
    flags = re.ASCII if ascii_only else 0
    everything = "".join(map(chr, range(0x80 if ascii_only else _MAX_CODE + 1)))
    return tuple((ord(m.group()[0]), ord(m.group()[-1])) for m in re.finditer(f"\\{name}+", everything, flags))


def _complement(ranges: _Ranges) -> _Ranges:
    out, nxt = [], 0
    for lo, hi in sorted(ranges):
        if lo > nxt:
            out.append((nxt, lo - 1))
        nxt = max(nxt, hi + 1)
    if nxt <= _MAX_CODE:
        out.append((nxt, _MAX_CODE))
    return tuple(out)


class _RegexParser:
    def __init__(self, pattern: str) -> None:
        self.p = pattern
        self.i = 0
        self.ascii = False
        self.dotall = False
        self.hoisted: Rules = {}

    def fail(self, what: str) -> ConstraintError:
        return ConstraintError(
            f"cannot compile the regex {self.p!r} to a grammar: {what} (at offset {self.i})",
            hint="grammars cannot express look-around, back-references, word boundaries or (?i); "
            "rewrite the pattern without them, or use Grammar(...) directly",
        )

    def peek(self, k: int = 0) -> str:
        j = self.i + k
        return self.p[j] if j < len(self.p) else ""

    # -- structure

    def parse(self) -> Rules:
        self.leading_flags()
        body = self.alternation(top=True)
        if self.i != len(self.p):
            raise self.fail("unbalanced ')'")
        return {"root": body, **self.hoisted}

    def leading_flags(self) -> None:
        while self.p.startswith("(?", self.i) and self.peek(2).isalpha() and self.peek(2) != "P":
            j = self.p.index(")", self.i)
            if ":" in self.p[self.i : j]:
                return  # a scoped flag group, handled as an atom
            self.apply_flags(self.p[self.i + 2 : j])
            self.i = j + 1

    def apply_flags(self, flags: str) -> None:
        for f in flags:
            if f == "a":
                self.ascii = True
            elif f == "s":
                self.dotall = True
            elif f not in "mu":
                raise self.fail(f"the flag (?{f})")

    def alternation(self, top: bool = False) -> Expr:
        options = [self.sequence(top)]
        while self.peek() == "|":
            self.i += 1
            options.append(self.sequence(top))
        return options[0] if len(options) == 1 else Alt(tuple(options))

    def sequence(self, top: bool) -> Expr:
        items: list[Expr] = []
        while self.peek() and self.peek() not in "|)":
            if self.peek() in "^$" or self.p.startswith(("\\A", "\\Z"), self.i):
                starts = self.peek() == "^" or self.p.startswith("\\A", self.i)
                self.i += 1 if self.peek() in "^$" else 2
                # under full match an anchor at either end of the whole pattern changes nothing
                if top and (not items if starts else self.peek() in ("", "|")):
                    continue
                raise self.fail("an anchor in the middle of the pattern")
            atom = self.atom()
            items.append(self.quantified(atom))
        return items[0] if len(items) == 1 else Seq(tuple(items))

    def quantified(self, atom: Expr) -> Expr:
        while True:
            c = self.peek()
            if c in ("*", "+", "?"):
                self.i += 1
                lo, hi = {"*": (0, None), "+": (1, None), "?": (0, 1)}[c]
            elif c == "{" and (m := re.match(r"\{(\d*)(,?)(\d*)\}", self.p[self.i :])) and (m[1] or m[3]):
                self.i += m.end()
                lo = int(m[1] or 0)
                hi = int(m[3]) if m[3] else (None if m[2] else lo)
                if lo > MAX_REPETITION or (hi is not None and hi > MAX_REPETITION):
                    raise self.fail(f"a repetition above {MAX_REPETITION} (llama.cpp's limit)")
            else:
                return atom
            if self.peek() == "?":
                self.i += 1  # lazy: same strings under full match
            elif self.peek() == "+":
                raise self.fail("a possessive quantifier")
            if isinstance(atom, Repeat) and atom.min == 0 and hi is None:
                atom = atom.item  # (x*)* is x*, and avoids a left-recursive rule
                lo = 0
            if isinstance(atom, (Seq, Alt)):
                name = f"group{len(self.hoisted) + 1}"  # llama.cpp budgets rules per repeated group
                self.hoisted[name] = atom
                atom = Ref(name)
            atom = Repeat(atom, lo, hi)

    def atom(self) -> Expr:
        c = self.peek()
        if c == "(":
            return self.group()
        if c == "[":
            return self.char_class()
        if c == ".":
            self.i += 1
            return CharSet((), True) if self.dotall else CharSet(((10, 10),), True)
        if c == "\\":
            return self.escape(in_class=False)
        if c in "*+?":
            raise self.fail(f"nothing to repeat with {c!r}")
        self.i += 1
        return Literal(c)

    def group(self) -> Expr:
        self.i += 1
        if self.peek() == "?":
            rest = self.p[self.i + 1 :]
            if rest.startswith(":"):
                self.i += 2
            elif rest.startswith("P<"):
                self.i = self.p.index(">", self.i) + 1
            elif rest.startswith("#"):
                self.i = self.p.index(")", self.i) + 1
                return Seq(())
            elif m := re.match(r"([a-zA-Z]+):", rest):
                saved = (self.ascii, self.dotall)
                self.apply_flags(m[1])
                self.i += 1 + m.end()
                inner = self.alternation()
                self.ascii, self.dotall = saved
                return self.close(inner)
            else:
                what = {"=": "a look-ahead", "!": "a look-ahead", "<": "a look-behind", "(": "a conditional"}
                raise self.fail(what.get(rest[:1], "a back-reference or (?...) group") if rest[:1] != ">" else "an atomic group")
        return self.close(self.alternation())

    def close(self, inner: Expr) -> Expr:
        if self.peek() != ")":
            raise self.fail("a missing ')'")
        self.i += 1
        return inner

    # -- characters

    def escape(self, in_class: bool) -> Literal | CharSet:
        """Parse ``\\...``; returns a `Literal` of one character or a `CharSet`."""
        c = self.peek(1)
        self.i += 2
        if c in "dwsDWS":
            ranges = _category(c.lower(), self.ascii)
            return CharSet(ranges, negated=c.isupper())
        simple = {"n": "\n", "t": "\t", "r": "\r", "f": "\f", "v": "\v", "a": "\a"}
        if c in simple:
            return Literal(simple[c])
        if in_class and c == "b":
            return Literal("\b")
        if c in "xuU":
            size = {"x": 2, "u": 4, "U": 8}[c]
            code = int(self.p[self.i : self.i + size], 16)
            self.i += size
            return Literal(chr(code))
        if c == "N":
            end = self.p.index("}", self.i)
            name = self.p[self.i + 1 : end]
            self.i = end + 1
            return Literal(unicodedata.lookup(name))
        if c == "0" or (in_class and c.isdigit()):
            m = re.match(r"[0-7]{0,2}", self.p[self.i :])
            digits = c + (m.group() if m else "")
            self.i += len(digits) - 1
            return Literal(chr(int(digits, 8)))
        if c.isdigit():
            raise self.fail("a back-reference")
        if c in "bB":
            raise self.fail("a word boundary")
        if c.isascii() and c.isalnum():
            raise self.fail(f"the escape \\{c}")
        return Literal(c)

    def char_class(self) -> Expr:
        self.i += 1
        negated = self.peek() == "^"
        self.i += negated
        ranges: list[tuple[int, int]] = []
        first = True
        while first or self.peek() != "]":
            if not self.peek():
                raise self.fail("an unterminated '['")
            first = False
            lo = self.class_item()
            if isinstance(lo, CharSet):
                ranges.extend(_complement(lo.ranges) if lo.negated else lo.ranges)
                continue
            if self.peek() == "-" and self.peek(1) not in ("]", ""):
                self.i += 1
                hi = self.class_item()
                if isinstance(hi, CharSet):
                    raise self.fail("a range ending in a class")
                ranges.append((ord(lo), ord(hi)))
            else:
                ranges.append((ord(lo), ord(lo)))
        self.i += 1
        return CharSet(_merge(ranges), negated)

    def class_item(self) -> str | CharSet:
        if self.peek() == "\\":
            item = self.escape(in_class=True)
            return item.text if isinstance(item, Literal) else item
        if self.p.startswith("[:", self.i):
            raise self.fail("POSIX classes like [:alpha:]")
        c = self.peek()
        self.i += 1
        return c


def _merge(ranges: list[tuple[int, int]]) -> _Ranges:
    merged: list[tuple[int, int]] = []
    for lo, hi in sorted(ranges):
        if merged and lo <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], hi))
        else:
            merged.append((lo, hi))
    return tuple(merged)


def _shorter(cs: CharSet) -> CharSet:
    """The same set, written as ``[...]`` or ``[^...]``, whichever needs fewer ranges."""
    flipped = CharSet(_complement(cs.ranges), not cs.negated)
    return flipped if len(flipped.ranges) < len(cs.ranges) else cs


def _hoist_classes(rules: Rules) -> Rules:
    """Replace big character classes (Unicode ``\\w``...) by a shared rule each, to keep grammars small."""
    named: dict[CharSet, str] = {}

    def walk(e: Expr) -> Expr:
        if isinstance(e, CharSet):
            e = _shorter(e)
            if len(e.ranges) <= 8:
                return e
            if e not in named:
                named[e] = f"class{len(named) + 1}"
            return Ref(named[e])
        if isinstance(e, Seq):
            return Seq(tuple(walk(i) for i in e.items))
        if isinstance(e, Alt):
            return Alt(tuple(walk(i) for i in e.options))
        if isinstance(e, Repeat):
            return Repeat(walk(e.item), e.min, e.max)
        return e

    out = {name: walk(body) for name, body in rules.items()}
    out.update({name: cs for cs, name in named.items()})
    return out


def _join_literals(e: Expr) -> Expr:
    """Merge runs of one-character literals into one literal: ``"a" "b"`` becomes ``"ab"``."""
    if isinstance(e, Seq):
        items: list[Expr] = []
        for item in (_join_literals(i) for i in e.items):
            if isinstance(item, Literal) and items and isinstance(items[-1], Literal):
                items[-1] = Literal(items[-1].text + item.text)
            else:
                items.append(item)
        return items[0] if len(items) == 1 else Seq(tuple(items))
    if isinstance(e, Alt):
        return Alt(tuple(_join_literals(i) for i in e.options))
    if isinstance(e, Repeat):
        return Repeat(_join_literals(e.item), e.min, e.max)
    return e


def regex_to_rules(pattern: str) -> Rules:
    """GBNF rules (``root`` first) accepting exactly the strings ``re.fullmatch(pattern, s)`` accepts."""
    rules = _RegexParser(pattern).parse()
    return _hoist_classes({name: _join_literals(body) for name, body in rules.items()})
