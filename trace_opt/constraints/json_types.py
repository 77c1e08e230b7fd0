"""Turn a Python type into a JSON schema: dataclasses, TypedDicts, Enums, typing generics, pydantic models.

Written here rather than borrowed from pydantic so the constraints layer needs nothing beyond
the standard library; a pydantic model is asked for its own ``model_json_schema()``. Named types
(dataclasses, TypedDicts, Enums, pydantic models) go to ``$defs`` and are referenced, which makes
recursive types work.

>>> from dataclasses import dataclass
>>> @dataclass
... class Point:
...     x: int
...     y: int = 0
>>> schema_from_type(Point)
{'type': 'object', 'title': 'Point', 'properties': {'x': {'type': 'integer'}, 'y': {'type': 'integer', 'default': 0}}, 'required': ['x'], 'additionalProperties': False}
"""

from __future__ import annotations

import dataclasses
import enum
import types
import typing
from collections.abc import Mapping, Sequence
from typing import Any

from ..errors import ConstraintError

__all__ = ["schema_from_type"]

_PRIMITIVES: dict[Any, dict[str, Any]] = {
    str: {"type": "string"},
    int: {"type": "integer"},
    float: {"type": "number"},
    bool: {"type": "boolean"},
    type(None): {"type": "null"},
    None: {"type": "null"},
    Any: {},
    object: {},
}


def _is_typeddict(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, dict) and hasattr(tp, "__required_keys__")


def _is_pydantic_model(tp: Any) -> bool:
    return isinstance(tp, type) and callable(getattr(tp, "model_json_schema", None))


class _Builder:
    def __init__(self) -> None:
        self.defs: dict[str, dict[str, Any]] = {}
        self.building: set[str] = set()

    def named(self, tp: type, make: typing.Callable[[], dict[str, Any]]) -> dict[str, Any]:
        name = tp.__name__
        if name not in self.defs and name not in self.building:
            self.building.add(name)
            self.defs[name] = make()
            self.building.discard(name)
        return {"$ref": f"#/$defs/{name}"}

    def schema(self, tp: Any) -> dict[str, Any]:
        if tp in _PRIMITIVES:
            return dict(_PRIMITIVES[tp])
        origin = typing.get_origin(tp)
        args = typing.get_args(tp)
        if origin is typing.Annotated:
            return self.schema(args[0])
        if origin is typing.Literal:
            return {"enum": list(args)}
        if origin in (typing.Union, types.UnionType):
            return {"anyOf": [self.schema(a) for a in args]}
        if origin in (list, set, frozenset) or (origin is not None and origin is Sequence):
            return {"type": "array", "items": self.schema(args[0]) if args else {}}
        if origin is tuple:
            if len(args) == 2 and args[1] is Ellipsis:
                return {"type": "array", "items": self.schema(args[0])}
            items = [self.schema(a) for a in args]
            return {"type": "array", "prefixItems": items, "minItems": len(items), "maxItems": len(items)}
        if origin in (dict, Mapping):
            if args and args[0] is not str:
                raise ConstraintError(f"JSON object keys are strings; cannot use {tp!r}", hint="use dict[str, ...]")
            return {"type": "object", "additionalProperties": self.schema(args[1]) if args else {}}
        if tp in (list, tuple, set):
            return {"type": "array"}
        if tp is dict:
            return {"type": "object"}
        if isinstance(tp, type) and issubclass(tp, enum.Enum):
            return self.named(tp, lambda: {"title": tp.__name__, "enum": [m.value for m in tp]})
        if dataclasses.is_dataclass(tp) and isinstance(tp, type):
            return self.named(tp, lambda: self.dataclass(tp))
        if _is_typeddict(tp):
            return self.named(tp, lambda: self.typeddict(tp))
        if _is_pydantic_model(tp):
            return self.named(tp, lambda: self.pydantic(tp))
        raise ConstraintError(
            f"no JSON schema for the type {tp!r}",
            hint="use str/int/float/bool/None, list/dict/tuple/Optional/Literal, an Enum, a dataclass, "
            "a TypedDict, a pydantic model, or pass a schema dict",
        )

    def dataclass(self, tp: type) -> dict[str, Any]:
        hints = typing.get_type_hints(tp, include_extras=True)
        properties: dict[str, Any] = {}
        required = []
        for f in dataclasses.fields(tp):
            prop = self.schema(hints[f.name])
            if f.default is not dataclasses.MISSING:
                if isinstance(f.default, (str, int, float, bool, type(None))):
                    prop["default"] = f.default
            elif f.default_factory is dataclasses.MISSING:
                required.append(f.name)
            properties[f.name] = prop
        return {"type": "object", "title": tp.__name__, "properties": properties, "required": required, "additionalProperties": False}

    def typeddict(self, tp: type) -> dict[str, Any]:
        hints = typing.get_type_hints(tp)
        required = [k for k in hints if k in tp.__required_keys__]  # type: ignore[attr-defined]
        properties = {k: self.schema(v) for k, v in hints.items()}
        return {"type": "object", "title": tp.__name__, "properties": properties, "required": required, "additionalProperties": False}

    def pydantic(self, tp: type) -> dict[str, Any]:
        schema = dict(tp.model_json_schema())  # type: ignore[attr-defined]
        for name, sub in schema.pop("$defs", {}).items():
            self.defs.setdefault(name, sub)
        return schema


def schema_from_type(tp: Any) -> dict[str, Any]:
    """The JSON schema of the values of ``tp``; raises `ConstraintError` for a type with none.

    >>> schema_from_type(list[int] | None)
    {'anyOf': [{'type': 'array', 'items': {'type': 'integer'}}, {'type': 'null'}]}
    """
    builder = _Builder()
    schema = builder.schema(tp)
    if "$ref" in schema and len(schema) == 1:  # the root is a named type: inline it
        name = schema["$ref"].rsplit("/", 1)[1]
        if not any(_mentions(d, name) for d in builder.defs.values()):
            schema = builder.defs.pop(name)
    if builder.defs:
        schema = {**schema, "$defs": builder.defs}
    return schema


def _mentions(schema: Any, name: str) -> bool:
    if isinstance(schema, dict):
        return schema.get("$ref") == f"#/$defs/{name}" or any(_mentions(v, name) for v in schema.values())
    if isinstance(schema, list):
        return any(_mentions(v, name) for v in schema)
    return False
