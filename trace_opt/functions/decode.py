"""From an LLM's reply to a value of the annotated type, or a ``ValueError`` that says what to fix.

Two steps. ``candidates`` finds the JSON the reply means (the whole reply, a fenced block, the
outermost object or array; for a scalar type also a lone number, ``true``/``false``, or the
reply itself when a string is wanted). ``decode`` then builds the typed value from decoded JSON,
strictly and all at once: every field is checked before any object is constructed, so a bad
reply never leaves a half-built value behind. Its errors carry a JSON path
(``$.customers[2].age: expected an integer, got 'thirty'``), which is what the model is shown
when it is asked again.

>>> from dataclasses import dataclass
>>> @dataclass
... class Point:
...     x: int
...     y: int = 0
>>> parse_reply('Here you go: {"x": 3}', list[Point] | Point)
Point(x=3, y=0)
"""

from __future__ import annotations

import collections.abc as cabc
import dataclasses
import enum
import json
import math
import re
import types
import typing
from typing import Any

from ..llm.structured import extract_json, match_option
from .types import concrete, display, hints_of

__all__ = ["decode", "parse_reply"]

_NONE = type(None)
_NUMBER = re.compile(r"(?<![\w.])-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?(?!\w|\.\d)")
_BOOLS = {"true": True, "yes": True, "false": False, "no": False}


def _fail(path: str, message: str) -> ValueError:
    return ValueError(f"{path}: {message}")


def _short(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, default=repr) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _is_pydantic(tp: Any) -> bool:
    return isinstance(tp, type) and callable(getattr(tp, "model_validate", None))


def _is_typeddict(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, dict) and hasattr(tp, "__required_keys__")


def decode(tp: Any, data: Any, path: str = "$") -> Any:
    """The value of type ``tp`` that the decoded JSON ``data`` describes; ``ValueError`` if none.

    Handles ``str``/``int``/``float``/``bool``/``None``, ``Any``, ``list``/``tuple``/``set``,
    ``dict[str, T]``, ``Optional``/unions, ``Literal``, Enums, dataclasses (nested, generic),
    TypedDicts and pydantic models.

    >>> import enum
    >>> class Color(enum.Enum):
    ...     RED = "red"
    >>> decode(dict[str, Color], {"car": "red"})
    {'car': <Color.RED: 'red'>}
    >>> decode(list[int], [1, "two"])
    Traceback (most recent call last):
    ...
    ValueError: $[1]: expected an integer, got 'two'
    """
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin is typing.Annotated:
        return decode(args[0], data, path)
    if tp is typing.Any or tp is object:
        return data
    if tp is None or tp is _NONE:
        if data is not None:
            raise _fail(path, f"expected null, got {_short(data)}")
        return None
    if tp in (str, int, float, bool):
        return _scalar(tp, data, path)
    if origin is typing.Literal:
        for option in args:
            if data == option and type(data) is type(option):
                return option
        raise _fail(path, f"expected one of {list(args)!r}, got {_short(data)}")
    if origin in (typing.Union, types.UnionType):
        return _union(args, data, path)
    if origin is not None and isinstance(origin, type) and dataclasses.is_dataclass(origin):
        return decode(concrete(tp), data, path)
    if origin in (list, set, frozenset, cabc.Sequence, cabc.MutableSequence, cabc.Set, cabc.Iterable) or tp in (list, set, frozenset):
        items = _array(tp, data, path)
        inner = args[0] if args else typing.Any
        values = [decode(inner, item, f"{path}[{i}]") for i, item in enumerate(items)]
        return set(values) if origin is set or tp is set else frozenset(values) if frozenset in (origin, tp) else values
    if origin is tuple or tp is tuple:
        items = _array(tp, data, path)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(decode(args[0], item, f"{path}[{i}]") for i, item in enumerate(items))
        if args and len(items) != len(args):
            raise _fail(path, f"expected {len(args)} items, got {len(items)}")
        return tuple(decode(a, item, f"{path}[{i}]") for i, (a, item) in enumerate(zip(args or [typing.Any] * len(items), items)))
    if origin in (dict, cabc.Mapping, cabc.MutableMapping) or tp is dict:
        obj = _object(tp, data, path)
        inner = args[1] if len(args) == 2 else typing.Any
        return {k: decode(inner, v, f"{path}.{k}") for k, v in obj.items()}
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return _enum(tp, data, path)
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return _dataclass(concrete(tp), data, path)
    if _is_typeddict(tp):
        obj = _object(tp, data, path)
        hints = hints_of(tp)
        missing = sorted(k for k in tp.__required_keys__ if k not in obj)  # type: ignore[attr-defined]
        if missing:
            raise _fail(path, f"{tp.__name__} is missing {missing}")
        unknown = sorted(set(obj) - set(hints))
        if unknown:
            raise _fail(path, f"{tp.__name__} has no key(s) {unknown}")
        return {k: decode(hints[k], v, f"{path}.{k}") for k, v in obj.items()}
    if _is_pydantic(tp):
        try:
            return tp.model_validate(data)
        except ValueError as e:  # pydantic's ValidationError is a ValueError
            raise _fail(path, f"not a valid {tp.__name__}: {e}") from None
    raise TypeError(
        f"cannot decode values of type {display(tp)}\nhelp: annotate with str/int/float/bool, list/dict/tuple/"
        "Optional/Literal, an Enum, a dataclass, a TypedDict or a pydantic model"
    )


def _scalar(tp: type, data: Any, path: str) -> Any:
    if tp is bool:
        if isinstance(data, bool):
            return data
        raise _fail(path, f"expected true or false, got {_short(data)}")
    if tp is str:
        if isinstance(data, str):
            return data
        raise _fail(path, f"expected a string, got {_short(data)}")
    if isinstance(data, bool) or not isinstance(data, (int, float)):
        raise _fail(path, f"expected {'an integer' if tp is int else 'a number'}, got {_short(data)}")
    if tp is float:
        if not math.isfinite(data):
            raise _fail(path, f"expected a finite number, got {data!r}")
        return float(data)
    if isinstance(data, float):
        if not data.is_integer():
            raise _fail(path, f"expected an integer, got {data!r}")
        return int(data)
    return data


def _union(args: tuple[Any, ...], data: Any, path: str) -> Any:
    if data is None and _NONE in args:
        return None
    errors = []
    # Exact scalar matches first, so 1 stays an int in `int | float` and "1" a str in `int | str`.
    ordered = sorted((a for a in args if a is not _NONE), key=lambda a: a is not type(data))
    for arg in ordered:
        try:
            return decode(arg, data, path)
        except ValueError as e:
            errors.append(str(e).removeprefix(f"{path}: "))
    raise _fail(path, f"matches none of {' | '.join(display(a) for a in args)} ({'; '.join(errors)})")


def _array(tp: Any, data: Any, path: str) -> list[Any]:
    if not isinstance(data, list):
        raise _fail(path, f"expected an array for {display(tp)}, got {_short(data)}")
    return data


def _object(tp: Any, data: Any, path: str) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise _fail(path, f"expected an object for {display(tp)}, got {_short(data)}")
    return data


def _enum(tp: type[enum.Enum], data: Any, path: str) -> Any:
    for member in tp:
        if member.value == data and type(member.value) is type(data):
            return member
    if isinstance(data, str):
        for member in tp:  # the member's name instead of its value
            if member.name == data or (isinstance(member.value, str) and member.value.casefold() == data.casefold()):
                return member
    raise _fail(path, f"expected one of {[m.value for m in tp]!r} ({tp.__name__}), got {_short(data)}")


def _dataclass(tp: type, data: Any, path: str) -> Any:
    obj = _object(tp, data, path)
    hints = hints_of(tp)
    fields = {f.name: f for f in dataclasses.fields(tp) if f.init}
    unknown = sorted(set(obj) - set(fields))
    if unknown:
        raise _fail(path, f"{tp.__name__} has no field(s) {unknown}; its fields are {list(fields)}")
    missing = [
        name for name, f in fields.items()
        if name not in obj and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    ]  # fmt: skip
    if missing:
        raise _fail(path, f"{tp.__name__} is missing the field(s) {missing}")
    kwargs = {name: decode(hints[name], value, f"{path}.{name}") for name, value in obj.items()}
    try:
        return tp(**kwargs)
    except (ValueError, TypeError) as e:  # __post_init__ validation: the model can fix the values
        raise _fail(path, f"{tp.__name__}({', '.join(f'{k}=...' for k in kwargs)}) was rejected: {e}") from None


# -- replies -------------------------------------------------------------------------------------


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
    if kind == "scalar":
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
        for attempt in (value,) if text_ok else (value, _unwrapped(value)):
            if attempt is _NO_VALUE:
                continue
            try:
                return decode(tp, attempt)
            except ValueError as e:
                first = first or e
    if text_ok:
        return reply.strip()
    if first is not None:
        raise first
    raise ValueError(f"the reply is not JSON for {display(tp)}: {reply.strip()[:80]!r}")


_NO_VALUE: Any = object()


def _unwrapped(value: Any) -> Any:
    if isinstance(value, dict) and len(value) == 1:
        return next(iter(value.values()))
    return _NO_VALUE
