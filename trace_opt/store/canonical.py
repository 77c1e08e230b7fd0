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
from collections.abc import Iterable
from typing import Any

from ..bundle import FunModule, _BoundFunModule  # a bundled method bound to its instance
from ..errors import SerializationError, StoreError
from ..nodes import Node
from . import wrappers as _w

__all__ = ["FunctionRef", "Opaque", "digest", "dumps", "from_tree", "loads", "to_tree"]

_FLOATS = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}


@dataclasses.dataclass(frozen=True)
class FunctionRef:
    """A stored bundled function: its name and source text. Loading never compiles it.

    >>> FunctionRef("roll", "def roll(): ...").name
    'roll'
    """

    name: str
    source: str | None


@dataclasses.dataclass(frozen=True)
class Opaque:
    """Stand-in for a value that had no canonical form when a run was recorded (only its
    type is kept, e.g. the ``self`` of a bundled method). See ``to_tree(..., lenient=True)``.
    """

    type: str


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
    __slots__ = ("lenient", "active")

    def __init__(self, lenient: bool) -> None:
        self.lenient = lenient
        self.active: set[int] = set()  # containers being encoded, to refuse cycles

    def enc(self, v: Any) -> Any:
        t = type(v)
        if t is str or t is int or t is bool or v is None:
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
                return {k: self.enc(x) for k, x in v.items()}
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
            return self.enc(v._data)
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
    """sha256 hex digest of canonical bytes (``dumps(value)``)."""
    return hashlib.sha256(data).hexdigest()


def loads(data: bytes | str, *, types: Iterable[type] = ()) -> Any:
    """Rebuild a value from canonical bytes. ``types`` trusts extra classes for this call.

    Raises ``StoreError`` for text that is not JSON, a tag this module does not know, or a
    class that is not trusted; never executes anything the data names.

    >>> loads(b'{"$tuple":[1,{"$bytes":"aGk="}]}')
    (1, b'hi')
    """
    try:
        text = data.decode("utf-8", "surrogatepass") if isinstance(data, (bytes, bytearray, memoryview)) else data
        tree = json.loads(text)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise StoreError(
            f"stored data is not canonical JSON ({type(exc).__name__}: {str(exc)[:80]})",
            hint="the store is corrupt or was not written by trace_opt",
        ) from None
    return from_tree(tree, types=types)


def from_tree(tree: Any, *, types: Iterable[type] = ()) -> Any:
    """Inverse of :func:`to_tree`."""
    try:
        return _Decoder(tuple(types)).dec(tree)
    except RecursionError:
        raise StoreError("stored value is nested too deeply", hint="the store may be corrupt") from None


class _Decoder:
    __slots__ = ("types",)

    def __init__(self, types: tuple[type, ...]) -> None:
        self.types = types

    def dec(self, x: Any) -> Any:
        t = type(x)
        if t is list:
            return [self.dec(i) for i in x]
        if t is not dict:
            return x
        if len(x) == 1:
            (key,) = x
            if key.startswith("$"):
                return self._tag(key, x[key])
        if any(k.startswith("$") for k in x):
            raise _bad(f"an object mixes tags with keys: {sorted(x)[:5]}")
        return {k: self.dec(v) for k, v in x.items()}

    def _tag(self, tag: str, body: Any) -> Any:
        if tag == "$tuple" and type(body) is list:
            return tuple(self.dec(i) for i in body)
        if tag == "$float" and body in _FLOATS:
            return _FLOATS[body]
        if tag in ("$set", "$frozenset") and type(body) is list:
            try:
                items = [self.dec(i) for i in body]
                return set(items) if tag == "$set" else frozenset(items)
            except TypeError as exc:
                raise _bad(f"a stored set holds an unhashable member ({exc})") from None
        if tag == "$bytes" and type(body) is str:
            try:
                return base64.b64decode(body, validate=True)
            except ValueError:
                raise _bad("invalid base64 in $bytes") from None
        if tag == "$dict" and type(body) is list and all(type(p) is list and len(p) == 2 for p in body):
            try:
                return {self.dec(k): self.dec(v) for k, v in body}
            except TypeError as exc:
                raise _bad(f"a stored dict has an unhashable key ({exc})") from None
        if tag == "$function" and type(body) is dict and type(body.get("name")) is str:
            source = body.get("source")
            return FunctionRef(body["name"], source if type(source) is str else None)
        if tag == "$opaque" and type(body) is str:
            return Opaque(body)
        if type(body) is list and len(body) == 2 and type(body[0]) is str:
            if tag == "$wrap":
                return self._wrapped(body[0], body[1])
            if tag in ("$dataclass", "$model", "$enum"):
                return self._instance(tag, body[0], body[1])
        raise _bad(f"unknown or malformed tag {tag!r}")

    def _wrapped(self, name: str, data: Any) -> Any:
        wrapper = _w.wrapper_named(name)
        if wrapper is None:
            raise StoreError(
                f"stored value uses the wrapper {name!r}, which is not registered in this process",
                hint="import the code that calls trace_opt.store.register_wrapper for it before loading",
            )
        try:
            return wrapper.unwrap(self.dec(data))
        except StoreError:
            raise
        except Exception as exc:  # noqa: BLE001 - any failure means the data does not fit
            raise StoreError(f"wrapper {name!r} could not load its data: {exc}", hint="the data may be corrupt") from None

    def _instance(self, tag: str, name: str, body: Any) -> Any:
        cls = _w.resolve_type(name, self.types)
        if cls is None:
            raise StoreError(
                f"stored value has type {name!r}, which is not trusted for loading in this process",
                hint=(
                    "decorate the class with @trace_opt.store.register_type (and import it), or pass "
                    "types=[TheClass] to get/checkout; loading never imports classes named by the data"
                ),
            )
        try:
            if tag == "$enum":
                if not issubclass(cls, enum.Enum):
                    raise TypeError(f"{name} is not an Enum")
                return cls(self.dec(body))
            if type(body) is not dict:
                raise TypeError("fields must be an object")
            fields = {k: self.dec(v) for k, v in body.items()}
            if tag == "$model":
                return cls.model_validate(fields, by_name=True)  # type: ignore[attr-defined]
            return _dataclass(cls, fields)
        except StoreError:
            raise
        except Exception as exc:  # noqa: BLE001
            raise StoreError(
                f"stored {name} does not fit the class in this process: {exc}",
                hint="the class changed since the value was stored; load with the old definition",
            ) from None


def _dataclass(cls: type, fields: dict[str, Any]) -> Any:
    if not dataclasses.is_dataclass(cls):
        raise TypeError(f"{cls.__qualname__} is not a dataclass")
    spec = {f.name: f for f in dataclasses.fields(cls)}
    unknown = set(fields) - set(spec)
    if unknown:
        raise TypeError(f"unknown fields {sorted(unknown)}")
    obj = cls(**{k: v for k, v in fields.items() if spec[k].init})
    for k, v in fields.items():
        if not spec[k].init:
            object.__setattr__(obj, k, v)
    return obj


def _bad(what: str) -> StoreError:
    return StoreError(f"stored data is malformed: {what}", hint="the store is corrupt or was not written by trace_opt")
