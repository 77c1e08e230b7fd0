"""`Regex`: the output must match a regular expression as a whole (``re.fullmatch``)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from ..errors import ConstraintError
from .base import CheckResult, Constraint, short_repr
from .gbnf import Rules
from .regex_gbnf import regex_to_rules

__all__ = ["Regex"]


class Regex(Constraint):
    """The whole output must match ``pattern`` (full-match semantics, so no anchors are needed).

    An invalid pattern raises `ConstraintError` at once; a valid one that a grammar cannot
    express (look-around, back-references...) raises only when `to_gbnf` is called, because
    ``check`` still works for it.

    >>> r = Regex(r"\\d{3}-\\d{4}")
    >>> bool(r.check("555-1234")), r.check("call 555-1234").reason
    (True, "'call 555-1234' does not match the regex '\\\\\\\\d{3}-\\\\\\\\d{4}'")
    """

    kind = "regex"

    def __init__(self, pattern: str) -> None:
        if not isinstance(pattern, str):
            raise ConstraintError(f"Regex needs a pattern string, got {type(pattern).__name__}")
        try:
            self.compiled = re.compile(pattern)
        except re.error as e:
            raise ConstraintError(
                f"invalid regex {pattern!r}: {e}", hint="check the pattern with re.compile; escape literal ( [ { . * + ? with \\"
            ) from None
        self.pattern = pattern

    def check(self, text: str) -> CheckResult:
        if self.compiled.fullmatch(text):
            return CheckResult.passed()
        return CheckResult.failed(f"{short_repr(text)} does not match the regex {self.pattern!r}")

    def phrase(self) -> str:
        return f"text fully matching the regex {self.pattern!r}"

    def gbnf_rules(self) -> Rules:
        return regex_to_rules(self.pattern)

    def params(self) -> dict[str, Any]:
        return {"pattern": self.pattern}

    def match_ends(self, text: str, start: int, *, to_end: bool) -> Iterator[int]:
        ends = [len(text)] if to_end else range(len(text), start - 1, -1)
        return (end for end in ends if self.compiled.fullmatch(text, start, end))
