"""Constraints on the shape of free text: `Prefix`, `Stop` and `MaxTokens`."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from ..errors import ConstraintError
from .base import CheckResult, Constraint, short_repr
from .gbnf import MAX_REPETITION, Alt, CharSet, Expr, Literal, Ref, Repeat, Rules, Seq, any_char

__all__ = ["CHARS_PER_TOKEN", "MaxTokens", "Prefix", "Stop", "estimate_tokens"]

CHARS_PER_TOKEN = 4


def estimate_tokens(text: str) -> int:
    """A tokenizer-free token count: one token per `CHARS_PER_TOKEN` characters, rounded up.

    Real tokenizers differ by model; this is the usual rule of thumb for English, and it is
    what `MaxTokens.check` uses, so a check gives the same answer everywhere.

    >>> estimate_tokens("hello world!")
    3
    """
    return math.ceil(len(text) / CHARS_PER_TOKEN)


class Prefix(Constraint):
    """The output must start with ``text`` (the backend can force it, then let the model continue).

    >>> c = Prefix("Answer:")
    >>> bool(c.check("Answer: 42")), c.check("42").reason
    (True, "'42' does not start with 'Answer:'")
    """

    kind = "prefix"

    def __init__(self, text: str) -> None:
        if not isinstance(text, str):
            raise ConstraintError(f"Prefix needs a str, got {type(text).__name__}")
        self.text = text

    def check(self, text: str) -> CheckResult:
        if text.startswith(self.text):
            return CheckResult.passed()
        return CheckResult.failed(f"{short_repr(text)} does not start with {self.text!r}")

    def phrase(self) -> str:
        return f"text starting with {self.text!r}"

    def gbnf_rules(self) -> Rules:
        return {"root": Seq((Literal(self.text), Repeat(any_char(), 0, None)))}

    def params(self) -> dict[str, Any]:
        return {"text": self.text}


class Stop(Constraint):
    """Generation stops at the first of these strings, so the output contains none of them.

    The backend passes them as stop sequences; `check` verifies that none occurs. The grammar
    is the automaton (Aho-Corasick) of texts that avoid them, one rule per state.

    >>> c = Stop(["\\n\\n", "END"])
    >>> bool(c.check("one line")), c.check("done END").reason
    (True, "'done END' contains the stop string 'END'")
    """

    kind = "stop"

    def __init__(self, strings: Iterable[str]) -> None:
        if isinstance(strings, str):
            raise ConstraintError(f"Stop needs a list of strings, got the string {strings!r}", hint=f"write Stop([{strings!r}])")
        items = list(strings)
        if not items or not all(isinstance(s, str) and s for s in items):
            raise ConstraintError(f"Stop needs one or more non-empty strings, got {items!r}")
        self.strings: tuple[str, ...] = tuple(dict.fromkeys(items))

    def check(self, text: str) -> CheckResult:
        found = [(text.find(s), s) for s in self.strings if s in text]
        if not found:
            return CheckResult.passed()
        return CheckResult.failed(f"{short_repr(text)} contains the stop string {min(found)[1]!r}")

    def phrase(self) -> str:
        return "text that does not contain " + " or ".join(repr(s) for s in self.strings)

    def gbnf_rules(self) -> Rules:
        # trie of the stop strings; state = longest suffix of the text read that is a trie node
        children: list[dict[str, int]] = [{}]
        final = [False]
        for s in self.strings:
            node = 0
            for ch in s:
                if ch not in children[node]:
                    children.append({})
                    final.append(False)
                    children[node][ch] = len(children) - 1
                node = children[node][ch]
            final[node] = True
        alphabet = sorted({ch for s in self.strings for ch in s})
        fail = [0] * len(children)
        order = list(children[0].values())
        for node in order:  # breadth-first: fail links and "a stop string ends here" flags
            for ch, child in children[node].items():
                f = fail[node]
                while f and ch not in children[f]:
                    f = fail[f]
                fail[child] = children[f][ch] if node and ch in children[f] else 0
                final[child] = final[child] or final[fail[child]]
                order.append(child)

        def goto(node: int, ch: str) -> int:
            while node and ch not in children[node]:
                node = fail[node]
            return children[node].get(ch, 0)

        others = CharSet(tuple((ord(c), ord(c)) for c in alphabet), negated=True)
        rules: Rules = {}
        for node in range(len(children)):
            if final[node]:
                continue
            options: list[Expr] = [Seq(())]
            for ch in alphabet:
                nxt = goto(node, ch)
                if not final[nxt]:
                    options.append(Seq((Literal(ch), Ref("root" if nxt == 0 else f"state{nxt}"))))
            options.append(Seq((others, Ref("root"))))
            rules["root" if node == 0 else f"state{node}"] = Alt(tuple(options))
        return rules

    def params(self) -> dict[str, Any]:
        return {"strings": list(self.strings)}


class MaxTokens(Constraint):
    """At most ``n`` tokens, estimated as ``ceil(len(text) / 4)`` (see `estimate_tokens`).

    The backend enforces the real limit by passing ``n`` as ``max_tokens``; `check` and the
    grammar (at most ``4 * n`` characters) use the estimate, so they agree with each other.

    >>> MaxTokens(2).check("way too long").reason
    'about 3 tokens (12 characters), more than the 2 allowed'
    """

    kind = "max_tokens"

    def __init__(self, n: int) -> None:
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise ConstraintError(f"Invalid token limit: {n!r}", hint="MaxTokens takes an int >= 0")
        self.n = n

    def check(self, text: str) -> CheckResult:
        tokens = estimate_tokens(text)
        if tokens <= self.n:
            return CheckResult.passed()
        return CheckResult.failed(f"about {tokens} tokens ({len(text)} characters), more than the {self.n} allowed")

    def phrase(self) -> str:
        return f"at most {self.n} tokens"

    def gbnf_rules(self) -> Rules:
        # .{0,N}, split so no repetition passes llama.cpp's limit:
        # upto-j ::= .{K} upto-(j-1) | .{0,K-1}  accepts .{0, j*K + r} with one parse only
        limit = self.n * CHARS_PER_TOKEN
        k = MAX_REPETITION // 2
        chunks, rest = divmod(limit, k)
        rules: Rules = {}
        names = ["root" if j == chunks else f"upto{j}" for j in range(chunks + 1)]
        rules[names[0]] = Repeat(any_char(), 0, rest)
        for j in range(1, chunks + 1):
            rules[names[j]] = Alt((Seq((Repeat(any_char(), k, k), Ref(names[j - 1]))), Repeat(any_char(), 0, k - 1)))
        return {"root": rules.pop("root"), **rules}

    def params(self) -> dict[str, Any]:
        return {"n": self.n}
