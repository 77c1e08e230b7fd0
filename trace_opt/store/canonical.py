"""Canonical JSON: one byte string per value, so equal content gets one sha256 digest.

The encoding is JSON with sorted keys, no spaces, UTF-8. Values plain JSON cannot tell apart
are written as single-key objects whose key starts with ``$`` (a *tag*), so they load back
as the same type:

============================  ==============================================================
value                         stored as
============================  ==============================================================
None, bool, int, str, list    themselves
finite float                  the shortest repr that round-trips (``0.1``, ``1e+16``, ``-0.0``)
nan, inf, -inf                ``{"$float": "nan"}`` / ``"inf"`` / ``"-inf"`` (every NaN is one
                              value: its sign and payload are not kept)
tuple, set, frozenset         ``{"$tuple": [...]}``, ``{"$set": [...]}`` (members sorted by
                              their canonical text)
bytes                         ``{"$bytes": "<base64>"}``
dict with str keys            an object (so insertion order is not kept; dicts compare equal)
other dicts, or "$" keys      ``{"$dict": [[key, value], ...]}`` sorted by key
dataclass, pydantic model     ``{"$dataclass": ["module:Class", {fields}]}``, ``{"$model": ...}``
Enum member                   ``{"$enum": ["module:Class", value]}``
registered wrapper type       ``{"$wrap": ["name", wrap(value)]}``
Node / ParameterNode          its ``data`` (a stored node is its value, not its graph)
bundled function              ``{"$function": {"name": ..., "source": ...}}`` → FunctionRef
============================  ==============================================================

Loading is data only: it calls no constructor the caller did not trust (see
``trace_opt.store.wrappers``), imports nothing, and rejects any tag it does not know.

>>> loads(dumps({"b": (1, 2.5), "a": {3}}))
{'a': {3}, 'b': (1, 2.5)}
>>> dumps([1.0, float("nan")])
b'[1.0,{"$float":"nan"}]'
"""

from __future__ import annotations

import base64
import dataclasses
import enum
import hashlib
import json
import math
import sys
from typing import Any

from ..bundle import FunModule, _BoundFunModule  # a bundled method bound to its instance
from ..errors import SerializationError
from ..nodes import Node
from ..secrets import redactor
from . import wrappers as _w
from .decoding import FunctionRef, Opaque, from_tree, loads

__all__ = ["FunctionRef", "Opaque", "digest", "dumps", "from_tree", "loads", "to_tree"]

# Loading lives in ``decoding``; it is re-exported here so this module is the codec's surface.


def _text(tree: Any) -> str:
    return json.dumps(tree, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def to_tree(value: Any, *, lenient: bool = False) -> Any:
    """The JSON-ready form of ``value`` (see the module table).

    ``lenient=True`` stores values with no canonical form as :class:`Opaque` (their type
    name) instead of raising ``SerializationError``; runs use it for call inputs.

    >>> to_tree((1, "a"))
    {'$tuple': [1, 'a']}
    """
    return _Encoder(lenient).enc(value)


class _Encoder:
    __slots__ = ("lenient", "active", "text")

    def __init__(self, lenient: bool) -> None:
        self.lenient = lenient
        self.active: set[int] = set()  # containers being encoded, to refuse cycles
        # every stored string passes here: known secrets (trace_opt.secrets) never reach a store
        self.text = redactor().text

    def enc(self, v: Any) -> Any:
        t = type(v)
        if t is str:
            return self.text(v)
        if t is int or t is bool or v is None:
            return v
        if t is float:
            return v if math.isfinite(v) else {"$float": "nan" if v != v else ("inf" if v > 0 else "-inf")}
        key = id(v)
        if key in self.active:
            raise SerializationError(
                f"cannot store a value that contains itself ({t.__name__} at {key:#x})",
                hint="break the reference cycle before storing",
            )
        self.active.add(key)
        try:
            return self._container(v, t)
        finally:
            self.active.discard(key)

    def _container(self, v: Any, t: type) -> Any:
        if t is list:
            return [self.enc(x) for x in v]
        if t is dict:
            if all(type(k) is str and not k.startswith("$") for k in v):
                return {self.text(k): self.enc(x) for k, x in v.items()}
            pairs = [[self.enc(k), self.enc(x)] for k, x in v.items()]
            pairs.sort(key=lambda p: _text(p[0]))
            return {"$dict": pairs}
        if t is tuple:
            return {"$tuple": [self.enc(x) for x in v]}
        wrapper = _w.wrapper_for(t)
        if wrapper is not None:
            return {"$wrap": [wrapper.name, self.enc(wrapper.wrap(v))]}
        if t is set or t is frozenset:
            items = sorted((self.enc(x) for x in v), key=_text)
            return {"$set" if t is set else "$frozenset": items}
        if t is bytes:
            return {"$bytes": base64.b64encode(v).decode("ascii")}
        return self._other(v, t)

    def _other(self, v: Any, t: type) -> Any:
        if isinstance(v, enum.Enum):
            _w.trust(t)
            return {"$enum": [_w.type_name(t), self.enc(v.value)]}
        if isinstance(v, Node):
            return self.enc(v.data)
        if dataclasses.is_dataclass(v):
            _w.trust(t)
            fields = {f.name: self.enc(getattr(v, f.name)) for f in dataclasses.fields(v)}
            return {"$dataclass": [_w.type_name(t), fields]}
        if _is_pydantic(v):
            _w.trust(t)
            fields = {name: self.enc(getattr(v, name)) for name in type(v).model_fields}
            return {"$model": [_w.type_name(t), fields]}
        fun = v.fun if isinstance(v, _BoundFunModule) else v
        if isinstance(fun, FunModule):
            return {"$function": {"name": fun.info.name, "source": fun.info.source}}
        # Subclasses of the primitives (numpy.float64, a str subclass...) keep their value.
        for base in (bool, int, float, str):
            if isinstance(v, base):
                return self.enc(base(v))
        if self.lenient:
            return {"$opaque": _w.type_name(t)}
        raise _w.unsupported(v)


def _is_pydantic(v: Any) -> bool:
    pydantic = sys.modules.get("pydantic")  # never imported here: it is heavy and optional
    return pydantic is not None and isinstance(v, pydantic.BaseModel)


def dumps(value: Any, *, lenient: bool = False) -> bytes:
    """The canonical bytes of ``value``.

    >>> dumps({"b": 1, "a": [True, None]})
    b'{"a":[true,null],"b":1}'
    """
    try:
        return _text(to_tree(value, lenient=lenient)).encode("utf-8", "surrogatepass")
    except RecursionError:
        raise SerializationError(
            f"{type(value).__name__} is nested too deeply to store", hint="flatten the value"
        ) from None
    except ValueError as exc:  # e.g. an int with more digits than Python prints
        raise SerializationError(f"cannot store {type(value).__name__}: {exc}", hint="store it as a string") from None


def digest(data: bytes) -> str:
    """sha256 hex digest of canonical bytes (``dumps(value)``): the address of a value.

    >>> digest(dumps({"a": 1})) == digest(dumps({"a": 1})), len(digest(b"1"))
    (True, 64)
    """
    return hashlib.sha256(data).hexdigest()
