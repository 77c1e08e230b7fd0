"""Defensive reading of optimizer replies.

Models wrap JSON in code fences, put prose before and after it, use single quotes and Python
literals, misspell the ``"suggestion"`` key, or name ``str_3`` as ``str3``, ``"str"`` or
``"#str_3"``. Everything here either finds what was meant or raises ``ValueError`` whose
message is written to be sent back to the model in a re-ask.

>>> parse_suggestion("Sure! ```json\\n{'reasoning': 'shorter', 'suggestion': {'prompt': 'Be brief'}}\\n```",
...                  ["prompt_3"]).suggestion
{'prompt_3': 'Be brief'}
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Reply", "coerce", "extract_object", "match_names", "parse_suggestion", "strip_code_fence"]

_FENCE = re.compile(r"```[A-Za-z0-9_+-]*[ \t]*\n?(.*?)```", re.DOTALL)
_SUGGESTION_KEYS = ("suggestion", "suggestions", "suggested_values", "new_values", "update", "updates", "variables")
_META_KEYS = {"reasoning", "reason", "answer", "explanation", "thoughts", "analysis"}
_PY_WORDS = {"True": "true", "False": "false", "None": "null"}


@dataclass
class Reply:
    """A parsed optimizer reply: the model's reasoning and ``{variable name: new value}``."""

    reasoning: str = ""
    suggestion: dict[str, Any] = field(default_factory=dict)
    ignored: list[str] = field(default_factory=list)


def _to_json(text: str) -> str:
    """Rewrite Python-flavoured JSON (single quotes, True/None, trailing commas) as JSON."""
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c in "\"'":
            j, buf = i + 1, []
            while j < n and text[j] != c:
                if text[j] == "\\" and j + 1 < n:
                    nxt = text[j + 1]
                    buf.append(nxt if nxt == "'" else text[j : j + 2])
                    j += 2
                    continue
                buf.append(text[j] if text[j] != '"' else '\\"')
                j += 1
            body = "".join(buf) if c == "'" else text[i + 1 : j]
            out.append('"' + body.replace("\n", "\\n").replace("\t", "\\t") + '"')
            i = j + 1
        elif c.isalpha():
            j = i
            while j < n and (text[j].isalnum() or text[j] == "_"):
                j += 1
            word = text[i:j]
            out.append(_PY_WORDS.get(word, word))
            i = j
        else:
            out.append(c)
            i += 1
    return re.sub(r",(\s*[}\]])", r"\1", "".join(out))


def _loads(text: str) -> Any:
    try:
        return json.loads(text, strict=False)
    except json.JSONDecodeError as first:
        try:
            return json.loads(_to_json(text), strict=False)
        except json.JSONDecodeError:
            raise ValueError(f"invalid JSON ({first.msg} at line {first.lineno} column {first.colno})") from None


def _objects(text: str) -> list[str]:
    """Top-level ``{...}`` spans of ``text``, skipping braces inside quoted strings."""
    spans, depth, start, quote, i = [], 0, -1, "", 0
    while i < len(text):
        c = text[i]
        if quote:
            if c == "\\":
                i += 1
            elif c == quote:
                quote = ""
        elif c == '"' or (c == "'" and depth and text[i - 1] in " {[:,\n\t"):
            quote = c
        elif c == "{":
            depth, start = depth + 1, i if depth == 0 else start
        elif c == "}" and depth:
            depth -= 1
            if depth == 0:
                spans.append(text[start : i + 1])
        i += 1
    if depth and start >= 0:  # an unclosed object (a cut reply): still worth a try
        spans.append(text[start:])
    return spans


def extract_object(text: str) -> dict[str, Any]:
    """The JSON object in ``text``: the whole reply, a fenced block, or a ``{...}`` in prose.

    >>> extract_object("Here you go: {'a': 1, 'b': [True, None],} Thanks!")
    {'a': 1, 'b': [True, None]}
    """
    candidates = [text.strip()] + [m.group(1).strip() for m in _FENCE.finditer(text)] + _objects(text)
    error = "no JSON object in the reply"
    found: list[dict[str, Any]] = []
    for cand in dict.fromkeys(c for c in candidates if c.startswith("{")):
        try:
            value = _loads(cand)
        except ValueError as e:
            error = str(e)
            continue
        if isinstance(value, dict):
            found.append(value)
    if not found:
        raise ValueError(f"{error}: {text.strip()[:120]!r}")
    with_key = [f for f in found if any(k.lower() in _SUGGESTION_KEYS for k in f)]
    return (with_key or found)[0]


def _canon(key: str) -> str:
    key = re.sub(r"^\s*\((?:[a-z]+)\)\s*", "", str(key))  # "(str) prompt_3"
    return key.strip().strip("`'\"#* ").casefold()


def _base(key: str) -> str:
    return re.sub(r"_?\d+$", "", key)


def match_names(keys: Sequence[str], names: Sequence[str]) -> tuple[dict[str, str], list[str]]:
    """Map reply keys to variable names: exact, then by case/decoration, then ``str3`` for
    ``str_3``, then the name without its number when that is unambiguous.

    >>> match_names(["Prompt", "__code", "x"], ["prompt_3", "__code_7"])
    ({'Prompt': 'prompt_3', '__code': '__code_7'}, ['x'])
    """
    exact = {n: n for n in names}
    canon = {_canon(n): n for n in names}
    squeezed = {_canon(n).replace("_", ""): n for n in names}
    bases: dict[str, list[str]] = {}
    for n in names:
        bases.setdefault(_base(_canon(n)), []).append(n)
    mapping: dict[str, str] = {}
    unknown: list[str] = []
    for key in keys:
        c = _canon(key)
        hit = exact.get(key) or canon.get(c) or squeezed.get(c.replace("_", ""))
        if hit is None and len(bases.get(_base(c), ())) == 1:
            hit = bases[_base(c)][0]
        if hit is None or hit in mapping.values():
            unknown.append(key)
        else:
            mapping[key] = hit
    return mapping, unknown


def strip_code_fence(value: Any) -> Any:
    """The code inside a ```python fence, if ``value`` is a fenced string."""
    if isinstance(value, str):
        m = _FENCE.fullmatch(value.strip())
        if m:
            return m.group(1).strip("\n")
    return value


def parse_suggestion(text: str, names: Sequence[str]) -> Reply:
    """Read ``{"reasoning": ..., "suggestion": {name: value}}`` out of a reply, leniently.

    ``TERMINATE`` (Trace's "no change") and an empty suggestion both mean: change nothing.
    Raises ``ValueError`` if no object is found, or the suggestion names none of ``names``.
    """
    if text.strip().strip(".").upper() == "TERMINATE":
        return Reply("TERMINATE")
    obj = extract_object(text)
    lowered = {str(k).lower(): k for k in obj}
    key = next((lowered[k] for k in _SUGGESTION_KEYS if k in lowered), None)
    reasoning = next((str(obj[lowered[k]]) for k in ("reasoning", "reason", "explanation") if k in lowered), "")
    if key is not None:
        raw = obj[key]
        if isinstance(raw, str):
            raw = _loads(raw) if raw.strip().startswith("{") else raw
        if not isinstance(raw, dict):
            raise ValueError(f'"{key}" must be an object mapping variable names to new values, got {raw!r:.80}')
    else:
        raw = {k: v for k, v in obj.items() if str(k).lower() not in _META_KEYS}
        if not raw:
            raise ValueError('the reply has no "suggestion" object; reply with {"reasoning": ..., "suggestion": {...}}')
    mapping, unknown = match_names(list(raw), names)
    if unknown and not mapping:
        raise ValueError(f"the suggestion names no variable of #Variables: {unknown}; use the names {list(names)}")
    suggestion = {name: strip_code_fence(raw[key]) for key, name in mapping.items()}
    return Reply(reasoning, suggestion, unknown)


def coerce(value: Any, current: Any) -> Any:
    """``value`` as the type of the parameter's ``current`` value; ``ValueError`` if impossible.

    >>> coerce("3.5", 1), coerce(7, "text"), coerce("[1, 2]", [0])
    (3.5, '7', [1, 2])
    """
    if current is None or type(value) is type(current):
        return value
    if isinstance(current, str):
        return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    if isinstance(current, bool):
        if isinstance(value, str) and value.strip().lower() in ("true", "false", "yes", "no"):
            return value.strip().lower() in ("true", "yes")
        raise ValueError(f"expected true or false, got {value!r:.80}")
    if isinstance(current, (int, float)):
        if isinstance(value, str):
            try:
                value = json.loads(value.strip())
            except json.JSONDecodeError:
                raise ValueError(f"expected a number, got {value!r:.80}") from None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"expected a number, got {value!r:.80}")
        if isinstance(current, float):
            return float(value)
        return int(value) if isinstance(value, float) and value.is_integer() else value
    if isinstance(current, (list, tuple, dict)):
        if isinstance(value, str):
            value = _loads(value)
        want = dict if isinstance(current, dict) else (list, tuple)
        if not isinstance(value, want):
            raise ValueError(f"expected a {type(current).__name__}, got {value!r:.80}")
        return type(current)(value)
    raise ValueError(f"cannot turn {value!r:.80} into a {type(current).__name__}")
