"""Turning replies into values: lenient option matching, JSON extraction, typed objects.

Hosted models wrap answers in code fences, quotes or a polite sentence. These helpers find
the intended value in such replies; when they cannot, they raise ``ValueError`` with a reason
the builtins feed back to the model when they ask again.
"""

from __future__ import annotations

import dataclasses
import json
import re
import typing
from collections.abc import Sequence
from typing import Any

__all__ = ["build_object", "extract_json", "match_option"]

_FENCE = re.compile(r"```(?:json|JSON)?\s*(.*?)```", re.DOTALL)


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", text.strip().strip("\"'`*.").strip()).casefold()


def match_option(reply: str, options: Sequence[str]) -> str:
    """The option ``reply`` names: exact, then case/punctuation-insensitive, then a unique mention.

    >>> match_option("  **Positive.**", ["positive", "negative"])
    'positive'
    """
    if reply in options:
        return reply
    norm = _norm(reply)
    for option in options:
        if _norm(option) == norm:
            return option
    mentioned = [o for o in options if re.search(rf"(?<!\w){re.escape(_norm(o))}(?!\w)", norm)]
    if len(mentioned) == 1:
        return mentioned[0]
    listed = ", ".join(repr(o) for o in options)
    if mentioned:
        raise ValueError(f"the reply mentions several options ({', '.join(map(repr, mentioned))}); give exactly one of {listed}")
    raise ValueError(f"{reply.strip()[:80]!r} is not one of {listed}")


def extract_json(reply: str) -> str:
    """The JSON text inside ``reply``: a fenced block, or the outermost ``{...}`` / ``[...]``.

    >>> extract_json('Sure! ```json\\n{"a": 1}\\n``` Hope it helps')
    '{"a": 1}'
    """
    fenced = _FENCE.search(reply)
    if fenced:
        return fenced.group(1).strip()
    text = reply.strip()
    if text[:1] in "{[":
        return text
    starts = [i for i in (text.find("{"), text.find("[")) if i >= 0]
    if not starts:
        raise ValueError(f"no JSON object in the reply {text[:80]!r}")
    start = min(starts)
    end = max(text.rfind("}"), text.rfind("]"))
    if end <= start:
        raise ValueError(f"no complete JSON object in the reply {text[:80]!r}")
    return text[start : end + 1]


def build_object(cls: Any, data: Any) -> Any:
    """Make a ``cls`` from decoded JSON: pydantic validation, or dataclasses built recursively.

    Raises ``ValueError`` (pydantic's ``ValidationError`` is one) when the data does not fit.
    """
    validate = getattr(cls, "model_validate", None)
    if callable(validate):
        return validate(data)
    if dataclasses.is_dataclass(cls) and isinstance(cls, type):
        if not isinstance(data, dict):
            raise ValueError(f"expected a JSON object for {cls.__name__}, got {type(data).__name__}")
        hints = typing.get_type_hints(cls)
        names = {f.name for f in dataclasses.fields(cls) if f.init}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ValueError(f"{cls.__name__} has no field(s) {unknown}")
        kwargs = {k: _build_field(hints.get(k, Any), v) for k, v in data.items()}
        try:
            return cls(**kwargs)
        except TypeError as e:  # a missing required field
            raise ValueError(f"cannot build {cls.__name__}: {e}") from None
    return data


def _build_field(tp: Any, value: Any) -> Any:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if dataclasses.is_dataclass(tp) or callable(getattr(tp, "model_validate", None)):
        return build_object(tp, value)
    if origin in (list, Sequence, tuple) and args and isinstance(value, list):
        items = [_build_field(args[0], v) for v in value]
        return tuple(items) if origin is tuple else items
    if origin is dict and len(args) == 2 and isinstance(value, dict):
        return {k: _build_field(args[1], v) for k, v in value.items()}
    if args and value is not None and origin is typing.Union:
        for arg in args:
            if arg is not type(None) and (dataclasses.is_dataclass(arg) or typing.get_origin(arg)):
                try:
                    return _build_field(arg, value)
                except (ValueError, TypeError):
                    continue
    return value


def loads(text: str) -> Any:
    """``json.loads`` whose error reads well in a re-ask."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise ValueError(f"invalid JSON ({e.msg} at line {e.lineno} column {e.colno})") from None
