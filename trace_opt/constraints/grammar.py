"""`Grammar`: the output must be a sentence of a grammar written in llama.cpp's GBNF."""

from __future__ import annotations

from typing import Any

from ..errors import ConstraintError
from .base import CheckResult, Constraint, short_repr
from .gbnf import Rules, format_gbnf, parse_gbnf
from .matcher import GrammarMatcher

__all__ = ["Grammar"]


class Grammar(Constraint):
    """The output must be derivable from the ``root`` rule of a GBNF grammar.

    The grammar is parsed (and refused if llama.cpp would refuse it: syntax, undefined rules,
    left recursion) when the constraint is made. `check` runs the grammar the way llama.cpp
    does while decoding, so it says exactly what the local backend would let through.

    >>> g = Grammar('root ::= item ("," item)*\\nitem ::= [a-z]+')
    >>> bool(g.check("ab,c")), g.check("ab,,c").reason
    (True, "the grammar rejects 'ab,,c' at offset 3 (',c')")
    """

    kind = "grammar"

    def __init__(self, text: str) -> None:
        if not isinstance(text, str):
            raise ConstraintError(f"Grammar needs GBNF text, got {type(text).__name__}")
        self.text = text
        self.rules = parse_gbnf(text)
        self.matcher = GrammarMatcher(self.rules)

    def check(self, text: str) -> CheckResult:
        if self.matcher.accepts(text):
            return CheckResult.passed()
        n = self.matcher.longest_prefix(text)
        if n == len(text):
            return CheckResult.failed(f"the grammar needs more after {short_repr(text)}")
        return CheckResult.failed(f"the grammar rejects {short_repr(text)} at offset {n} ({short_repr(text[n:])})")

    def phrase(self) -> str:
        rules = format_gbnf(self.rules).replace("\n", "; ")
        return f"text of the GBNF grammar {rules}"

    def gbnf_rules(self) -> Rules:
        return dict(self.rules)

    def to_gbnf(self) -> str:
        return self.text

    def params(self) -> dict[str, Any]:
        return {"text": self.text}
