"""Test a string against a GBNF grammar, the way llama.cpp walks it while decoding.

llama.cpp keeps a set of parse stacks and advances all of them one character at a time; a
string is in the language when some stack is empty at the end. This module does the same in
pure Python, so ``check`` of every constraint can be tested against its compiled grammar
offline, and so `Grammar.check` gives the answer the local backend would. Like llama.cpp,
left-recursive grammars are refused.

Why our own: no library runs a GBNF grammar over plain text. llama.cpp only applies one through
a sampler built on a model's vocabulary, token by token (so it needs a model file), and
llama-cpp-python exposes nothing more.

>>> m = GrammarMatcher('root ::= "(" root ")" | ""')
>>> m.accepts("(())"), m.accepts("(()")
(True, False)
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Mapping

from ..errors import ConstraintError
from .gbnf import Alt, CharSet, Expr, Literal, Ref, Repeat, Seq, parse_gbnf

__all__ = ["GrammarMatcher"]


class _Chars:
    """A `CharSet` prepared for fast membership: sorted, merged ranges searched by bisection."""

    __slots__ = ("highs", "lows", "negated")

    def __init__(self, cs: CharSet) -> None:
        merged: list[list[int]] = []
        for lo, hi in sorted(r for r in cs.ranges if r[0] <= r[1]):
            if merged and lo <= merged[-1][1] + 1:
                merged[-1][1] = max(merged[-1][1], hi)
            else:
                merged.append([lo, hi])
        self.lows = [lo for lo, _ in merged]
        self.highs = [hi for _, hi in merged]
        self.negated = cs.negated

    def __contains__(self, ch: str) -> bool:
        code = ord(ch)
        i = bisect_right(self.lows, code) - 1
        return (i >= 0 and code <= self.highs[i]) != self.negated


_Element = _Chars | int  # a character, or the index of a rule to expand
_Frame = tuple[int, int, int]  # (rule, alternative, element index): what to match next
_Stack = tuple[_Frame, ...]


class GrammarMatcher:
    """Membership test for a GBNF grammar given as text or as parsed rules.

    >>> GrammarMatcher('root ::= [a-z]+ ("," [a-z]+)*').accepts("ab,c")
    True
    """

    def __init__(self, grammar: str | Mapping[str, Expr], root: str = "root") -> None:
        rules = parse_gbnf(grammar) if isinstance(grammar, str) else dict(grammar)
        if root not in rules:
            raise ConstraintError(f"the grammar has no {root!r} rule", hint=f"add `{root} ::= ...`; decoding starts there")
        self._index = {name: i for i, name in enumerate(rules)}
        self._rules: list[list[tuple[_Element, ...]]] = [[] for _ in rules]
        self._chars: dict[CharSet, _Chars] = {}
        for name, body in rules.items():
            self._rules[self._index[name]] = self._alternatives(body)
        self._check_left_recursion(list(rules))
        self._root = self._index[root]

    # -- compiling the AST to flat rules: alternatives of elements, helpers for groups and repeats

    def _new_rule(self, alternatives: list[tuple[_Element, ...]]) -> int:
        self._rules.append(alternatives)
        return len(self._rules) - 1

    def _alternatives(self, expr: Expr) -> list[tuple[_Element, ...]]:
        options = expr.options if isinstance(expr, Alt) else (expr,)
        return [tuple(self._elements(option)) for option in options]

    def _elements(self, expr: Expr) -> list[_Element]:
        if isinstance(expr, Literal):
            return [self._charset(CharSet(((ord(c), ord(c)),))) for c in expr.text]
        if isinstance(expr, CharSet):
            return [self._charset(expr)]
        if isinstance(expr, Ref):
            return [self._index[expr.name]]
        if isinstance(expr, Seq):
            return [e for item in expr.items for e in self._elements(item)]
        if isinstance(expr, Alt):
            return [self._new_rule(self._alternatives(expr))]
        item = self._elements(expr.item)
        if len(item) > 1:
            item = [self._new_rule([tuple(item)])]
        out = item * expr.min
        if expr.max is None:  # R ::= item R | ""
            rule = self._new_rule([])
            self._rules[rule] = [(*item, rule), ()]
            return [*out, rule]
        tail: list[_Element] = []
        for _ in range(expr.max - expr.min):  # R_k ::= item R_(k-1) | ""
            tail = [self._new_rule([(*item, *tail), ()])]
        return out + tail

    def _charset(self, cs: CharSet) -> _Chars:
        if cs not in self._chars:
            self._chars[cs] = _Chars(cs)
        return self._chars[cs]

    def _check_left_recursion(self, names: list[str]) -> None:
        nullable = [False] * len(self._rules)
        changed = True
        while changed:
            changed = False
            for r, alts in enumerate(self._rules):
                if not nullable[r] and any(all(isinstance(e, int) and nullable[e] for e in alt) for alt in alts):
                    nullable[r] = changed = True
        # rules that can be reached at the left edge of each rule, through nullable prefixes
        left: list[set[int]] = [set() for _ in self._rules]
        for r, alts in enumerate(self._rules):
            for alt in alts:
                for e in alt:
                    if not isinstance(e, int):
                        break
                    left[r].add(e)
                    if not nullable[e]:
                        break
        state = [0] * len(self._rules)  # 0 new, 1 in progress, 2 done

        def visit(r: int) -> None:
            state[r] = 1
            for nxt in left[r]:
                if state[nxt] == 1:
                    name = names[r] if r < len(names) else "a group or repetition"
                    raise ConstraintError(
                        f"invalid GBNF grammar: left recursion through {name!r}",
                        hint="llama.cpp cannot decode left-recursive rules; rewrite `a ::= a x | y` as `a ::= y x*`",
                    )
                if state[nxt] == 0:
                    visit(nxt)
            state[r] = 2

        for r in range(len(self._rules)):
            if state[r] == 0:
                visit(r)

    # -- running

    def _expand(self, stack: _Stack, out: set[_Stack], seen: set[_Stack]) -> None:
        """Add to ``out`` every stack reachable from ``stack`` whose top is a character."""
        if stack in seen:
            return
        seen.add(stack)
        if not stack:
            out.add(stack)
            return
        rule, alt, i = stack[-1]
        elements = self._rules[rule][alt]
        element = elements[i]
        if not isinstance(element, int):
            out.add(stack)
            return
        rest = stack[:-1] + ((rule, alt, i + 1),) if i + 1 < len(elements) else stack[:-1]
        for j, sub in enumerate(self._rules[element]):
            self._expand(rest + ((element, j, 0),) if sub else rest, out, seen)

    def _start(self) -> set[_Stack]:
        stacks: set[_Stack] = set()
        seen: set[_Stack] = set()
        for j, alt in enumerate(self._rules[self._root]):
            self._expand(((self._root, j, 0),) if alt else (), stacks, seen)
        return stacks

    def _advance(self, stacks: set[_Stack], ch: str) -> set[_Stack]:
        out: set[_Stack] = set()
        seen: set[_Stack] = set()
        for stack in stacks:
            if not stack:
                continue
            rule, alt, i = stack[-1]
            elements = self._rules[rule][alt]
            chars = elements[i]
            if not isinstance(chars, int) and ch in chars:
                nxt = stack[:-1] + ((rule, alt, i + 1),) if i + 1 < len(elements) else stack[:-1]
                self._expand(nxt, out, seen)
        return out

    def longest_prefix(self, text: str) -> int:
        """How many leading characters of ``text`` some string of the language starts with."""
        stacks = self._start()
        for n, ch in enumerate(text):
            stacks = self._advance(stacks, ch)
            if not stacks:
                return n
        return len(text)

    def accepts(self, text: str) -> bool:
        """Whether the whole of ``text`` is a string of the language."""
        stacks = self._start()
        for ch in text:
            stacks = self._advance(stacks, ch)
            if not stacks:
                return False
        return () in stacks

    def accepts_prefix(self, text: str) -> bool:
        """Whether ``text`` can still be completed to a string of the language (what token masking keeps)."""
        return self.longest_prefix(text) == len(text) and bool(self._prefix_stacks(text))

    def _prefix_stacks(self, text: str) -> set[_Stack]:
        stacks = self._start()
        for ch in text:
            stacks = self._advance(stacks, ch)
        return stacks
