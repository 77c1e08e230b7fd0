"""Parameter diffs as HTML: word-level for short text (prompts), line-level otherwise (code, JSON).

A prompt usually changes a few words on one line, which a line diff shows as one line out,
one line in; marking the words that changed is what a reader wants to see.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Mapping
from html import escape
from typing import Any

__all__ = ["diff_html", "diff_values"]

_WORDS = re.compile(r"\s+|[^\s]+")


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True, default=repr)
    except (TypeError, ValueError):
        return repr(value)


def _words(old: str, new: str) -> str:
    a, b = _WORDS.findall(old), _WORDS.findall(new)
    out: list[str] = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if op == "equal":
            out.append(escape("".join(a[i1:i2])))
            continue
        if i2 > i1:
            out.append(f'<del class="del">{escape("".join(a[i1:i2]))}</del>')
        if j2 > j1:
            out.append(f'<ins class="add">{escape("".join(b[j1:j2]))}</ins>')
    return f'<div class="words">{"".join(out)}</div>'


def _lines(name: str, old: str, new: str) -> str:
    rows = []
    for line in difflib.unified_diff(old.splitlines(), new.splitlines(), f"a/{name}", f"b/{name}", lineterm=""):
        kind = "add" if line.startswith("+") and not line.startswith("+++") else (
            "del" if line.startswith("-") and not line.startswith("---") else "ctx")  # fmt: skip
        rows.append(f'<span class="{kind}">{escape(line)}</span>')
    return f'<pre class="lines">{chr(10).join(rows)}</pre>'


def diff_html(name: str, old: Any, new: Any) -> str:
    """One parameter's change as HTML (``<del class="del">`` / ``<ins class="add">`` words, or
    a unified diff with ``add`` / ``del`` lines).

    >>> diff_html("prompt", "Answer negative.", "Answer the sentiment.")
    '<div class="words">Answer <del class="del">negative.</del><ins class="add">the sentiment.</ins></div>'
    """
    a, b = _text(old), _text(new)
    if "\n" not in a and "\n" not in b and len(a) + len(b) < 2000:
        return _words(a, b)
    return _lines(name, a, b)


def diff_values(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, str]:
    """``{name: diff HTML}`` for every parameter whose value differs between two ``{name: value}``.

    >>> list(diff_values({"a": 1, "b": "x"}, {"a": 1, "b": "y"}))
    ['b']
    """
    out: dict[str, str] = {}
    for name in [*new, *(n for n in old if n not in new)]:
        if name in old and name in new and type(old[name]) is type(new[name]) and old[name] == new[name]:
            continue
        out[name] = diff_html(name, old.get(name, ""), new.get(name, ""))
    return out
