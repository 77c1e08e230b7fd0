"""`Choice`: the output is exactly one of a few strings (labels, a multiple-choice answer)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from ..errors import ConstraintError
from .base import CheckResult, Constraint, short_repr
from .gbnf import Alt, Literal, Rules

__all__ = ["Choice"]


class Choice(Constraint):
    """The output must equal one of ``options`` exactly (case and whitespace count).

    >>> c = Choice(["yes", "no"])
    >>> bool(c.check("no")), c.check("maybe").reason
    (True, "'maybe' is not one of ['yes', 'no']")
    >>> c.to_gbnf()
    'root ::= "yes" | "no"'
    """

    kind = "choice"

    def __init__(self, options: Iterable[str]) -> None:
        if isinstance(options, str):
            raise ConstraintError(
                f"Choice needs a list of options, got the string {options!r}",
                hint=f"write Choice([{options!r}]) for a single option",
            )
        items = list(options)
        bad = [o for o in items if not isinstance(o, str)]
        if bad:
            raise ConstraintError(f"Choice options must be strings, got {bad[0]!r}", hint="convert them with str()")
        if not items:
            raise ConstraintError("Choice needs at least one option", hint="an empty choice allows nothing")
        self.options: tuple[str, ...] = tuple(dict.fromkeys(items))  # drop repeats, keep order

    def check(self, text: str) -> CheckResult:
        if text in self.options:
            return CheckResult.passed()
        return CheckResult.failed(f"{short_repr(text)} is not one of {list(self.options)!r}")

    def phrase(self) -> str:
        return f"one of {list(self.options)!r}"

    def gbnf_rules(self) -> Rules:
        literals = tuple(Literal(o) for o in self.options)
        return {"root": Alt(literals) if len(literals) > 1 else literals[0]}

    def params(self) -> dict[str, Any]:
        return {"options": list(self.options)}

    def match_ends(self, text: str, start: int, *, to_end: bool) -> Iterator[int]:
        ends = {start + len(o) for o in self.options if text.startswith(o, start)}
        return iter(sorted((e for e in ends if not to_end or e == len(text)), reverse=True))

    def __repr__(self) -> str:
        return f"Choice({list(self.options)!r})"
