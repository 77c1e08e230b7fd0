"""Finding the value in an LLM's reply: the JSON it means, then ``decode`` into the annotated type.

Hosted models wrap answers in code fences, sentences or a ``{"result": ...}`` object. The
candidates, most literal first: the whole reply, a fenced block, the outermost object or
array; for a scalar type also a lone number, ``true``/``false``/``yes``/``no``, or an option
the reply names; a string type also takes a reply that is not JSON as it is.

>>> from dataclasses import dataclass
>>> @dataclass
... class Point:
...     x: int
...     y: int = 0
>>> parse_reply('Here you go: {"x": 3}', list[Point] | Point)
Point(x=3, y=0)
"""

from __future__ import annotations

import enum
import json
import re
import types
import typing
from typing import Any

from ..llm.structured import extract_json, match_option
from .decode import decode
from .types import concrete, display

__all__ = ["parse_reply"]

_NUMBER = re.compile(r"(?<![\w.])-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?(?!\w|\.\d)")
_BOOLS = {"true": True, "yes": True, "false": False, "no": False}


def _kind(tp: Any) -> str:
    """``"string"``, ``"scalar"`` (number, bool, enum, literal) or ``"structured"``."""
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        return _kind(typing.get_args(tp)[0])
    if tp is str:
        return "string"
    if tp in (int, float, bool) or origin is typing.Literal or (isinstance(tp, type) and issubclass(tp, enum.Enum)):
        return "scalar"
    return "structured"


def _takes_text(tp: Any) -> bool:
    """Whether a reply that is not JSON may be the value itself (``str``, ``str | None``)."""
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        return str in typing.get_args(tp)
    return _kind(tp) == "string"


def _options(tp: Any) -> list[Any]:
    if typing.get_origin(tp) is typing.Literal:
        return list(typing.get_args(tp))
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return [m.value for m in tp]
    return []


def _loads(text: str) -> Any:
    return json.loads(text, parse_constant=lambda c: (_ for _ in ()).throw(ValueError(f"{c} is not JSON")))


def _candidates(reply: str, tp: Any) -> list[Any]:
    """Decoded JSON values the reply may mean, most literal first."""
    text = reply.strip()
    texts = [text]
    try:
        texts.append(extract_json(text))
    except ValueError:
        pass
    values = []
    for t in dict.fromkeys(texts):
        try:
            values.append(_loads(t))
        except ValueError:
            continue
    kind = _kind(tp)
    if kind == "scalar" and not any(isinstance(v, (dict, list)) for v in values):
        # Only a reply in words is searched for a number or a yes/no: in a JSON object the
        # lone number may belong to any key ({"wrong": 1} is not the int 1).
        options = _options(tp)
        if options and all(isinstance(o, str) for o in options):
            try:
                values.append(match_option(text, options))
            except ValueError:
                pass
        numbers = _NUMBER.findall(text)
        if len(numbers) == 1:
            values.append(_loads(numbers[0]))
        word = text.strip("`'\".* ").casefold()
        if word in _BOOLS:
            values.append(_BOOLS[word])
    return values


def parse_reply(reply: str, tp: Any) -> Any:
    """The value of type ``tp`` in an LLM reply; ``ValueError`` naming the problem if there is none.

    A JSON reply is decoded; a lone ``{"result": ...}``-style wrapper around a non-object
    type is unwrapped; a string type also takes a reply that is not JSON as it is.

    >>> parse_reply("The answer is 42.", int)
    42
    >>> parse_reply("Paris", str)
    'Paris'
    """
    tp = concrete(tp)
    values = _candidates(reply, tp)
    first: ValueError | None = None
    text_ok = _takes_text(tp)
    for value in values:
        # {"result": ...} around a value is unwrapped, except for a string: that reply may be the string.
        for attempt in (value,) if text_ok else (value, _unwrapped(value, tp)):
            if attempt is _NO_VALUE:
                continue
            try:
                return decode(tp, attempt)
            except ValueError as e:
                first = first or e
    if text_ok:
        return reply.strip()
    wrong = next((v for v in values if _is_foreign_wrapper(v, tp)), None)
    if wrong is not None:
        raise ValueError(f"the reply is a JSON object with the key {next(iter(wrong))!r}, not a {display(tp)}: "
                         f"answer with the value itself, or as {{\"result\": ...}}")  # fmt: skip
    if first is not None:
        raise first
    raise ValueError(f"the reply is not JSON for {display(tp)}: {reply.strip()[:80]!r}")


_NO_VALUE: Any = object()
# The keys models put around a scalar answer; around a scalar any other single key is data.
_WRAPPERS = frozenset({"result", "value", "answer", "output", "return", "response", "data"})


def _unwrapped(value: Any, tp: Any) -> Any:
    """The value inside a one-key object: any key around a list or object (``{"customers":
    [...]}`` names its content), only a wrapper key around a scalar (``{"wrong": 1}`` is data)."""
    if isinstance(value, dict) and len(value) == 1 and (next(iter(value)) in _WRAPPERS or _kind(tp) == "structured"):
        return next(iter(value.values()))
    return _NO_VALUE


def _is_foreign_wrapper(value: Any, tp: Any) -> bool:
    """A one-key object with a key we do not unwrap, where no object was asked for."""
    return isinstance(value, dict) and len(value) == 1 and next(iter(value)) not in _WRAPPERS and _kind(tp) != "structured"
