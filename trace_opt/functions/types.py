"""Types as an LLM function sees them: type variables filled in, generic dataclasses made concrete.

A generic dataclass such as ``Reflection[H]`` describes a family of types; to ask an LLM for
one, to build its JSON schema and to decode the reply, we need a real class whose fields have
real types. ``concrete(Reflection[Settings])`` makes one, once per alias: a dataclass
subclass of ``Reflection`` named ``Reflection[Settings]`` with ``H`` replaced everywhere, so
``isinstance(value, Reflection)`` still holds. ``substitute`` replaces type variables inside any
annotation, which is how one generic ``llm_function`` is specialised to the caller's types.

>>> from dataclasses import dataclass
>>> from typing import Generic, TypeVar
>>> T = TypeVar("T")
>>> @dataclass
... class Box(Generic[T]):
...     item: T
>>> BoxInt = concrete(Box[int])
>>> BoxInt(3), issubclass(BoxInt, Box)
(Box[int](item=3), True)
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import threading
import types
import typing
from collections.abc import Mapping
from typing import Any, TypeVar

__all__ = ["concrete", "display", "hints_of", "is_generic_dataclass", "substitute"]

_lock = threading.RLock()


def hints_of(cls: Any) -> dict[str, Any]:
    """``typing.get_type_hints(cls)``, with the class's own name and type variables in scope.

    Annotations written as strings (``from __future__ import annotations``) name the class
    itself or its type parameters; those resolve here even when the class is not a module global.
    """
    local = {p.__name__: p for p in getattr(cls, "__parameters__", ())}
    local.setdefault(getattr(cls, "__name__", ""), cls)
    try:
        return typing.get_type_hints(cls, localns=local, include_extras=True)
    except NameError as e:
        raise TypeError(
            f"cannot resolve the annotations of {getattr(cls, '__qualname__', cls)!r}: {e}\n"
            "help: define the types it mentions at module level (or quote nothing and define them first)"
        ) from None


def _rebuild(tp: Any, origin: Any, args: tuple[Any, ...]) -> Any:
    if origin in (typing.Union, types.UnionType):
        return typing.Union[args]  # `T | None` with T filled in may not be a types.UnionType any more
    if origin is typing.Annotated:
        return typing.Annotated[(args[0], *tp.__metadata__)]
    if isinstance(tp, types.GenericAlias):  # list[int], dict[str, T], tuple[int, ...]
        return types.GenericAlias(origin, args)
    return tp.copy_with(args) if hasattr(tp, "copy_with") else origin[args if len(args) != 1 else args[0]]


def substitute(tp: Any, mapping: Mapping[Any, Any]) -> Any:
    """``tp`` with every type variable in ``mapping`` replaced by its value.

    >>> T = TypeVar("T")
    >>> substitute(list[T] | None, {T: int})
    typing.Optional[list[int]]
    """
    if isinstance(tp, TypeVar):
        return mapping.get(tp, tp)
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin is None or not args or origin is typing.Literal:
        return tp
    if origin is typing.Annotated:
        inner = substitute(args[0], mapping)
        return tp if inner is args[0] else typing.Annotated[(inner, *tp.__metadata__)]
    new = tuple(substitute(a, mapping) if not isinstance(a, list) else [substitute(x, mapping) for x in a] for a in args)
    if all(a is b for a, b in zip(new, args)):
        return tp
    return _rebuild(tp, origin, new)


def is_generic_dataclass(tp: Any) -> bool:
    """Whether ``tp`` is a parametrised generic dataclass such as ``Reflection[Settings]``."""
    origin = typing.get_origin(tp)
    return isinstance(origin, type) and dataclasses.is_dataclass(origin) and bool(typing.get_args(tp))


def _has_generic(tp: Any, seen: frozenset[int] = frozenset()) -> bool:
    """Whether a generic dataclass alias occurs anywhere inside ``tp`` (fields of dataclasses included)."""
    if is_generic_dataclass(tp):
        return True
    args = typing.get_args(tp)
    if args and typing.get_origin(tp) is not typing.Literal:
        return any(_has_generic(a, seen) for a in args if not isinstance(a, list))
    if isinstance(tp, type) and dataclasses.is_dataclass(tp) and id(tp) not in seen:
        try:
            hints = hints_of(tp)
        except TypeError:
            return False
        return any(_has_generic(h, seen | {id(tp)}) for h in hints.values())
    return False


def concrete(tp: Any) -> Any:
    """``tp`` with every generic dataclass alias inside it replaced by a concrete dataclass.

    Types without generic dataclasses come back unchanged (the same object). A concrete class
    is made once per alias and reused, so equal aliases give the identical class.

    >>> concrete(list[int]) == list[int]
    True
    """
    if is_generic_dataclass(tp):
        return _specialise(tp)
    args = typing.get_args(tp)
    origin = typing.get_origin(tp)
    if args and origin is not typing.Literal:
        if origin is typing.Annotated:
            inner = concrete(args[0])
            return tp if inner is args[0] else typing.Annotated[(inner, *tp.__metadata__)]
        new = tuple(a if isinstance(a, list) else concrete(a) for a in args)
        return tp if all(a is b for a, b in zip(new, args)) else _rebuild(tp, origin, new)
    if isinstance(tp, type) and dataclasses.is_dataclass(tp) and _has_generic(tp):
        return _specialise_plain(tp)
    return tp


@functools.lru_cache(maxsize=None)
def _specialise(alias: Any) -> type:
    origin = typing.get_origin(alias)
    mapping = dict(zip(getattr(origin, "__parameters__", ()), typing.get_args(alias)))
    return _subclass(origin, mapping, display(alias))


@functools.lru_cache(maxsize=None)
def _specialise_plain(cls: type) -> type:
    return _subclass(cls, {}, cls.__name__)


def _subclass(base: type, mapping: dict[Any, Any], name: str) -> type:
    """A dataclass subclass of ``base`` whose field types are ``base``'s with ``mapping`` applied."""
    with _lock:
        hints = hints_of(base)
        fields = []
        for f in dataclasses.fields(base):
            kw: dict[str, Any] = {"init": f.init, "repr": f.repr, "compare": f.compare, "metadata": f.metadata}
            if f.default is not dataclasses.MISSING:
                kw["default"] = f.default
            if f.default_factory is not dataclasses.MISSING:
                kw["default_factory"] = f.default_factory
            if getattr(f, "kw_only", dataclasses.MISSING) is True:
                kw["kw_only"] = True
            fields.append((f.name, concrete(substitute(hints[f.name], mapping)), dataclasses.field(**kw)))
        params = base.__dataclass_params__  # type: ignore[attr-defined]
        namespace = {"__doc__": base.__doc__, "__module__": base.__module__}
        cls = dataclasses.make_dataclass(
            name, fields, bases=(base,), namespace=namespace, frozen=params.frozen, eq=params.eq, order=params.order
        )
        cls.__qualname__ = name
        return cls


def display(tp: Any) -> str:
    """How a type is written in a prompt: ``list[Customer]``, ``int | None``, ``Literal['a', 'b']``.

    >>> display(dict[str, list[int]] | None)
    'dict[str, list[int]] | None'
    """
    if tp is type(None) or tp is None:
        return "None"
    if tp is typing.Any:
        return "Any"
    if tp is Ellipsis:
        return "..."
    if isinstance(tp, TypeVar):
        return tp.__name__
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin is typing.Annotated:
        return display(args[0])
    if origin is typing.Literal:
        return f"Literal[{', '.join(repr(a.value if isinstance(a, enum.Enum) else a) for a in args)}]"
    if origin in (typing.Union, types.UnionType):
        return " | ".join(display(a) for a in args)
    if origin is not None:
        name = getattr(origin, "__name__", None) or str(origin).replace("typing.", "")
        return f"{name}[{', '.join(display(a) for a in args)}]" if args else name
    if isinstance(tp, type):
        return tp.__name__
    return str(tp).replace("typing.", "")
