"""The registry of types the store may rebuild, and wrappers for types JSON cannot express.

Loading a store must never run code named by the data (a store is a file someone can send
you). So a class tag in stored JSON -- ``"mymod:Roll"`` -- is only ever looked up in this
registry, never imported or ``getattr``-ed from a module. A class gets in by being

- registered: ``@register_type`` on a dataclass, pydantic model, Enum or exception class
  (do it where the class is defined, so every process that imports it can load it);
- stored by this process: encoding an instance trusts its class for loading here too;
- named by the caller for one load: ``store.get(digest, types=[Roll])``.

Types that are not records of fields (``Decimal``, ``datetime``, a numpy array, your own
classes) are stored through a :class:`TypeWrapper`: ``wrap`` turns a value into storable
data, ``unwrap`` turns that data back. A few standard-library wrappers are registered here.
"""

from __future__ import annotations

import collections
import datetime as _dt
import decimal
import importlib
import pathlib
import threading
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from ..errors import SerializationError

__all__ = ["TypeWrapper", "register_type", "register_wrapper", "type_name"]

C = TypeVar("C", bound=type)

_lock = threading.Lock()
# tag -> class, for classes whose instances are rebuilt from their fields.
_TYPES: dict[str, type] = {}
# exact type -> wrapper, and tag -> wrapper (the same objects).
_WRAPPERS_BY_TYPE: dict[type, TypeWrapper] = {}
_WRAPPERS_BY_NAME: dict[str, TypeWrapper] = {}


def type_name(cls: type) -> str:
    """The tag a class is stored under: ``"module:QualName"``.

    >>> type_name(pathlib.PurePosixPath)
    'pathlib:PurePosixPath'
    """
    return f"{cls.__module__}:{cls.__qualname__}"


@dataclass(frozen=True)
class TypeWrapper:
    """How to store values of ``type``: ``wrap(value)`` returns canonical-JSON-able data
    (which may itself hold registered types), ``unwrap(data)`` rebuilds the value.

    ``name`` is the stable tag written to the store; keep it when you rename or move the
    class, and stored values keep loading.

    >>> import fractions
    >>> w = register_wrapper(fractions.Fraction, lambda f: [f.numerator, f.denominator],
    ...                      lambda d: fractions.Fraction(*d))
    >>> w.name
    'fractions:Fraction'
    """

    type: type
    name: str
    wrap: Callable[[Any], Any]
    unwrap: Callable[[Any], Any]


def register_wrapper(
    cls: type, wrap: Callable[[Any], Any], unwrap: Callable[[Any], Any], *, name: str | None = None
) -> TypeWrapper:
    """Teach the store a type: values of exactly ``cls`` are stored as ``wrap(value)`` and
    loaded with ``unwrap(data)``. Registering the same type again replaces the wrapper.

    >>> import fractions
    >>> from trace_opt.store import dumps, loads
    >>> _ = register_wrapper(fractions.Fraction, lambda f: [f.numerator, f.denominator],
    ...                      lambda d: fractions.Fraction(*d))
    >>> loads(dumps(fractions.Fraction(1, 3)))
    Fraction(1, 3)
    """
    if not isinstance(cls, type):
        raise TypeError(f"register_wrapper needs a class, got {type(cls).__name__}: {cls!r}")
    if not callable(wrap) or not callable(unwrap):
        raise TypeError(f"wrap and unwrap for {cls.__name__} must be callables")
    wrapper = TypeWrapper(cls, name or type_name(cls), wrap, unwrap)
    with _lock:
        old = _WRAPPERS_BY_TYPE.pop(cls, None)
        if old is not None:
            _WRAPPERS_BY_NAME.pop(old.name, None)
        _WRAPPERS_BY_TYPE[cls] = wrapper
        _WRAPPERS_BY_NAME[wrapper.name] = wrapper
    return wrapper


def register_type(cls: C) -> C:
    """Trust a dataclass, pydantic model, Enum or exception class for loading; use it as a
    class decorator. Its instances are stored field by field and rebuilt by calling the class.

    >>> import dataclasses
    >>> from trace_opt.store import dumps, loads
    >>> @register_type
    ... @dataclasses.dataclass
    ... class Roll:
    ...     value: int
    >>> loads(dumps(Roll(6)))
    Roll(value=6)
    """
    if not isinstance(cls, type):
        raise TypeError(f"register_type decorates a class, got {type(cls).__name__}: {cls!r}")
    with _lock:
        _TYPES[type_name(cls)] = cls
    return cls


def trust(cls: type) -> None:
    """Record that this process stored an instance of ``cls`` (so it may load it back)."""
    name = type_name(cls)
    if _TYPES.get(name) is not cls:
        with _lock:
            _TYPES[name] = cls


def wrapper_for(cls: type) -> TypeWrapper | None:
    return _WRAPPERS_BY_TYPE.get(cls)


def wrapper_named(name: str) -> TypeWrapper | None:
    return _WRAPPERS_BY_NAME.get(name)


# trace_opt's own record types that runs store (token usage of LLM calls). Their modules are
# ours, so importing one is safe; the data only chooses among these names.
_OWN = {"trace_opt.llm.response:Usage", "trace_opt.llm.response:LLMResponse"}


def resolve_type(name: str, extra: Iterable[type] = ()) -> type | None:
    """The trusted class stored as ``name``, or None. Imports nothing but trace_opt's own
    modules for the few names in ``_OWN``."""
    for given in extra:
        if type_name(given) == name:
            return given
    cls = _TYPES.get(name)
    if cls is None and name in _OWN:
        module, _, qualname = name.partition(":")
        cls = getattr(importlib.import_module(module), qualname)
        trust(cls)
    return cls


def unsupported(value: Any) -> SerializationError:
    cls = type(value)
    return SerializationError(
        f"cannot store a value of type {type_name(cls)}: {_short(value)}",
        hint=(
            f"register it: trace_opt.store.register_wrapper({cls.__name__}, wrap, unwrap) "
            "(or @trace_opt.store.register_type on a dataclass / pydantic model / Enum)"
        ),
    )


def _short(value: Any, limit: int = 60) -> str:
    try:
        text = repr(value)
    except Exception:  # noqa: BLE001 - a broken __repr__ must not hide the real error
        text = f"<{type(value).__name__}>"
    return text if len(text) <= limit else text[: limit - 3] + "..."


# -- standard-library types ---------------------------------------------------------------------

register_wrapper(complex, lambda z: [z.real, z.imag], lambda d: complex(*d), name="complex")
register_wrapper(decimal.Decimal, str, decimal.Decimal, name="decimal")
register_wrapper(_dt.datetime, lambda d: d.isoformat(), _dt.datetime.fromisoformat, name="datetime")
register_wrapper(_dt.date, lambda d: d.isoformat(), _dt.date.fromisoformat, name="date")
register_wrapper(_dt.time, lambda d: d.isoformat(), _dt.time.fromisoformat, name="time")
register_wrapper(
    _dt.timedelta, lambda d: [d.days, d.seconds, d.microseconds], lambda d: _dt.timedelta(*d), name="timedelta"
)
register_wrapper(
    collections.OrderedDict, lambda d: list(d.items()), collections.OrderedDict, name="ordereddict"
)
register_wrapper(uuid.UUID, str, uuid.UUID, name="uuid")
register_wrapper(bytearray, bytes, bytearray, name="bytearray")
for _path in (pathlib.PurePosixPath, pathlib.PureWindowsPath, pathlib.PosixPath, pathlib.WindowsPath):
    register_wrapper(_path, str, _path, name=f"path:{_path.__name__}")
del _path
