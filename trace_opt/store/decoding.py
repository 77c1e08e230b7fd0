"""Loading canonical JSON back into values: data only.

Every tag is checked against the short list ``canonical`` writes; a class tag resolves only
through the trusted registry of ``trace_opt.store.wrappers`` (never an import or a
``getattr`` on a module named by the data); anything else is a ``StoreError``. So the worst
a crafted store can do is fail to load.
"""

from __future__ import annotations

import base64
import dataclasses
import enum
import json
import math
from collections.abc import Iterable
from typing import Any

from ..errors import StoreError
from . import wrappers as _w

__all__ = ["FunctionRef", "Opaque", "from_tree", "loads"]

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

    >>> loads(b'{"$opaque":"socket:socket"}')
    Opaque(type='socket:socket')
    """

    type: str


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
