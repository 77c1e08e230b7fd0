"""``@llm_strategy``: implement every stub member of a class with an LLM (the strategy pattern).

Methods, static methods, class methods and properties whose body is only a docstring and
``...`` (or ``raise NotImplementedError``) become :class:`LLMFunction` s; members with a real
body stay exactly as written, so hand-written and LLM-written behaviour mix in one class. A
method's prompt shows its class (docstring and fields) and ``self`` as JSON, so the instance's
data is part of every call. Stubs inherited from base classes (abstract methods included) are
implemented on the decorated class; dunder methods are left alone.
"""

from __future__ import annotations

import abc
from collections.abc import Callable
from typing import Any, TypeVar, overload

from ..llm.base import LLM
from ..llm.registry import BackendSpec
from .function import LLMFunction, caller_locals
from .stub import is_stub

__all__ = ["llm_functions", "llm_strategy"]

C = TypeVar("C", bound=type)

_REGISTRY = "__llm_functions__"


def _member(attr: Any) -> tuple[Any, Callable[[LLMFunction], Any], str] | None:
    """``(function, rewrap, decorator shown in the prompt)`` for a member that may be a stub."""
    if isinstance(attr, staticmethod):
        return attr.__func__, staticmethod, "staticmethod"
    if isinstance(attr, classmethod):
        return attr.__func__, classmethod, "classmethod"
    if isinstance(attr, property) and attr.fget is not None:
        return attr.fget, lambda f: property(f, attr.fset, attr.fdel), "property"
    if callable(attr) and hasattr(attr, "__code__"):
        return attr, lambda f: f, ""
    return None


def _names(cls: type) -> list[str]:
    """Member names over the class and its bases (not ``object``), bases' first, without repeats."""
    names: dict[str, None] = {}
    for klass in reversed(cls.__mro__[:-1]):
        names.update(dict.fromkeys(vars(klass)))
    return [n for n in names if not (n.startswith("__") and n.endswith("__"))]


def _implement(cls: type, options: dict[str, Any], localns: dict[str, Any]) -> type:
    if not isinstance(cls, type):
        raise TypeError(f"@llm_strategy decorates a class, got {type(cls).__name__}: {cls!r:.80}")
    implemented: dict[str, LLMFunction] = {}
    for name in _names(cls):
        attr = next(vars(k)[name] for k in cls.__mro__ if name in vars(k))
        member = _member(attr)
        if member is None:
            continue
        fn, rewrap, decorator = member
        if isinstance(fn, LLMFunction):  # decorated by hand already
            implemented[name] = fn
            continue
        if not is_stub(fn):
            continue
        fun = LLMFunction(fn, localns={**localns, cls.__name__: cls}, **options)
        fun.spec.owner, fun.spec.decorator = cls, decorator
        setattr(cls, name, rewrap(fun))
        implemented[name] = fun
    if not implemented:
        raise TypeError(
            f"@llm_strategy found nothing to implement in {cls.__qualname__}\n"
            "help: give the members the LLM should implement a docstring and `...` (or `raise NotImplementedError`) as body"
        )
    setattr(cls, _REGISTRY, {**llm_functions(cls), **implemented})
    if getattr(cls, "__abstractmethods__", None):
        abc.update_abstractmethods(cls)
    return cls


@overload
def llm_strategy(cls: C, /) -> C: ...


@overload
def llm_strategy(
    llm: BackendSpec | None = None, /, *, max_reasks: int = 2, trainable: bool = True, **params: Any
) -> Callable[[C], C]: ...


def llm_strategy(
    target: Any = None, /, *, llm: BackendSpec | None = None, max_reasks: int = 2, trainable: bool = True,
    **params: Any,
) -> Any:
    """Class decorator: implement every stub method and property with an LLM.

    ``@llm_strategy``, ``@llm_strategy(llm)`` and ``@llm_strategy(llm=..., temperature=0)``
    all work; the options are those of :func:`llm_function`. Each implemented member has its
    own trainable instruction; :func:`llm_functions` lists them.

    >>> from dataclasses import dataclass
    >>> from trace_opt.llm import DummyLLM
    >>> @llm_strategy(DummyLLM(['"Bonjour Ada !"']))
    ... @dataclass
    ... class Customer:
    ...     name: str
    ...     language: str
    ...     def greeting(self) -> str:
    ...         '''A one-line greeting in the customer's language.'''
    ...         ...
    ...     def initials(self) -> str:
    ...         return self.name[:1]
    >>> c = Customer("Ada", "fr")
    >>> c.greeting(), c.initials()
    ('Bonjour Ada !', 'A')
    """
    if isinstance(target, type) and not isinstance(target, LLM):
        return _implement(target, dict(llm=llm, max_reasks=max_reasks, trainable=trainable, **params), caller_locals(1))
    if target is not None:
        if llm is not None:
            raise TypeError("llm_strategy got the backend twice (positionally and as llm=)\nhelp: pass it once")
        llm = target
    options = dict(llm=llm, max_reasks=max_reasks, trainable=trainable, **params)

    def decorate(cls: C) -> C:
        return _implement(cls, options, caller_locals(1))  # type: ignore[return-value]

    return decorate


def llm_functions(cls_or_obj: Any) -> dict[str, LLMFunction]:
    """``{member name: LLMFunction}`` of a class made by :func:`llm_strategy` (or of an instance).

    Their instructions are what an optimizer trains:
    ``[f.instruction for f in llm_functions(Customer).values()]``.
    """
    cls = cls_or_obj if isinstance(cls_or_obj, type) else type(cls_or_obj)
    found: dict[str, LLMFunction] = {}
    for klass in reversed(cls.__mro__):
        found.update(vars(klass).get(_REGISTRY, {}))
    return found
