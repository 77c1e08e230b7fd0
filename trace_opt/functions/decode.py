"""From decoded JSON to a value of the annotated type, or a ``ValueError`` that says what to fix.

``decode`` builds the typed value strictly: a dataclass is constructed only once all its
fields decoded, so a bad reply never leaves a half-built value behind. Its errors carry a JSON
path (``$.customers[2].age: expected an integer, got 'thirty'``), which is what the model is
shown when it is asked again. Finding the JSON in a reply is ``reply.parse_reply``'s job.

Why not pydantic's ``TypeAdapter`` for everything: its lax mode turns ``"3"`` into 3 and ``1``
into True, which hides a model that ignored the schema, and its strict mode refuses ``3.0`` for
an int and an Enum member's name; it also accepts unknown dataclass fields. The containers,
scalars, Enums, Literals, dataclasses and TypedDicts are therefore decoded here, strictly and
with the leniency LLM replies need; every other type the schema side accepts (pydantic models,
``datetime``, ``date``, ``UUID``, ``Decimal``, ``Path``...) is validated by pydantic, the
library that wrote its schema, and its errors get the same JSON path.

>>> from dataclasses import dataclass
>>> @dataclass
... class Point:
...     x: int
...     y: int = 0
>>> decode(list[Point], [{"x": 3}])
[Point(x=3, y=0)]
"""

from __future__ import annotations

import collections.abc as cabc
import dataclasses
import enum
import functools
import json
import math
import types
import typing
from typing import Any

from .types import concrete, display, hints_of

__all__ = ["decode"]

_NONE = type(None)


def _fail(path: str, message: str) -> ValueError:
    return ValueError(f"{path}: {message}")


def _short(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, default=repr) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


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
        key, inner = args if len(args) == 2 else (typing.Any, typing.Any)
        return {_key(key, k, f"{path}.{k}"): decode(inner, v, f"{path}.{k}") for k, v in obj.items()}
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return _enum(tp, data, path)
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return _dataclass(concrete(tp), data, path)
    if _is_typeddict(tp):
        obj = _object(tp, data, path)
        hints = hints_of(tp)
        missing = sorted(k for k in tp.__required_keys__ if k not in obj)
        if missing:
            raise _fail(path, f"{tp.__name__} is missing {missing}")
        unknown = sorted(set(obj) - set(hints))
        if unknown:
            raise _fail(path, f"{tp.__name__} has no key(s) {unknown}")
        return {k: decode(hints[k], v, f"{path}.{k}") for k, v in obj.items()}
    return _pydantic(tp, data, path)  # pydantic models, datetime, UUID, Decimal, ...


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


def _key(tp: Any, key: str, path: str) -> Any:
    """A JSON object key as a key of type ``tp``. JSON keys are always strings, so ``"1"``
    stands for 1 in ``dict[int, str]``: a key that is JSON text is read as that value first."""
    if tp in (str, typing.Any, object):
        return key
    try:
        return decode(tp, json.loads(key), path)
    except ValueError:  # not JSON text ("gold", "2024-05-01"), or JSON of the wrong type
        return decode(tp, key, path)


@functools.lru_cache(maxsize=256)
def _adapter(tp: Any) -> Any:
    from pydantic import PydanticSchemaGenerationError, PydanticUserError, TypeAdapter

    try:
        return TypeAdapter(tp)
    except (PydanticSchemaGenerationError, PydanticUserError) as e:
        raise TypeError(
            f"cannot decode values of type {display(tp)}: {str(e).splitlines()[0]}\nhelp: annotate with str/int/"
            "float/bool, list/dict/tuple/Optional/Literal, an Enum, a dataclass, a TypedDict, a pydantic model or "
            "another type pydantic validates (datetime, UUID, Decimal...)"
        ) from None


def _pydantic(tp: Any, data: Any, path: str) -> Any:
    """``TypeAdapter(tp).validate_python(data)`` (lax: ISO text becomes a datetime), its first
    error reported at its JSON path below ``path``."""
    from pydantic import ValidationError

    try:
        hash(tp)
    except TypeError:  # e.g. Annotated[..., <a list>]: not cached, built each time
        adapter = _adapter.__wrapped__(tp)
    else:
        adapter = _adapter(tp)
    try:
        return adapter.validate_python(data)
    except ValidationError as e:
        first = e.errors(include_url=False)[0]
        where = path + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in first["loc"])
        name = getattr(tp, "__name__", None) or display(tp)
        what = f"not a valid {name}" if where == path else f"in {name}"
        raise _fail(where, f"{what}: {first['msg']}, got {_short(first['input'])}") from None
