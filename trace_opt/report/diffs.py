"""Parameter diffs: word-level for short text (prompts), line-level otherwise (code, JSON).

A prompt usually changes a few words on one line, which a line diff shows as one line out,
one line in; marking the words that changed is what a reader wants to see. This module
computes the changes (``Diff``); ``templates/diff.html.j2`` draws them.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from .templating import render

__all__ = ["Diff", "changes", "diff", "diff_html", "diff_values"]

_WORDS = re.compile(r"\s+|[^\s]+")


@dataclass(frozen=True)
class Diff:
    """One parameter's change, as the template draws it.

    ``kind`` is ``"words"`` (``parts`` are ``equal`` / ``del`` / ``add`` runs of text) or
    ``"lines"`` (``parts`` are ``ctx`` / ``del`` / ``add`` lines of a unified diff).

    >>> diff("p", "a b", "a c").parts
    (('equal', 'a '), ('del', 'b'), ('add', 'c'))
    """

    kind: Literal["words", "lines"]
    parts: tuple[tuple[str, str], ...]


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True, default=repr)
    except (TypeError, ValueError):
        return repr(value)


def _words(old: str, new: str) -> Diff:
    a, b = _WORDS.findall(old), _WORDS.findall(new)
    parts: list[tuple[str, str]] = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if op == "equal":
            parts.append(("equal", "".join(a[i1:i2])))
            continue
        if i2 > i1:
            parts.append(("del", "".join(a[i1:i2])))
        if j2 > j1:
            parts.append(("add", "".join(b[j1:j2])))
    return Diff("words", tuple(parts))


def _lines(name: str, old: str, new: str) -> Diff:
    parts = []
    for line in difflib.unified_diff(old.splitlines(), new.splitlines(), f"a/{name}", f"b/{name}", lineterm=""):
        kind = "add" if line.startswith("+") and not line.startswith("+++") else (
            "del" if line.startswith("-") and not line.startswith("---") else "ctx")  # fmt: skip
        parts.append((kind, line))
    return Diff("lines", tuple(parts))


def diff(name: str, old: Any, new: Any) -> Diff:
    """The change from ``old`` to ``new``: words for one short line each, lines otherwise.

    >>> diff("f", "x = 1\\n", "x = 2\\n").kind
    'lines'
    """
    a, b = _text(old), _text(new)
    if "\n" not in a and "\n" not in b and len(a) + len(b) < 2000:
        return _words(a, b)
    return _lines(name, a, b)


def changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, Diff]:
    """``{name: Diff}`` for every parameter whose value differs between two ``{name: value}``."""
    out: dict[str, Diff] = {}
    for name in [*new, *(n for n in old if n not in new)]:
        if name in old and name in new and type(old[name]) is type(new[name]) and old[name] == new[name]:
            continue
        out[name] = diff(name, old.get(name, ""), new.get(name, ""))
    return out


def diff_html(name: str, old: Any, new: Any) -> str:
    """One parameter's change as HTML (``<del class="del">`` / ``<ins class="add">`` words, or
    a unified diff with ``add`` / ``del`` lines).

    >>> diff_html("prompt", "Answer negative.", "Answer the sentiment.")
    '<div class="words">Answer <del class="del">negative.</del><ins class="add">the sentiment.</ins></div>'
    """
    return render("diff.html.j2", "diff", diff(name, old, new))


def diff_values(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, str]:
    """``{name: diff HTML}`` for every parameter whose value differs between two ``{name: value}``.

    >>> list(diff_values({"a": 1, "b": "x"}, {"a": 1, "b": "y"}))
    ['b']
    """
    return {name: render("diff.html.j2", "diff", d) for name, d in changes(old, new).items()}
