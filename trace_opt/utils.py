"""The helpers of Trace's ``opto.trace.utils`` that Trace programs and tests import, so they
port by changing the import (``from trace_opt.utils import contain``).

Only the general-purpose ones: Trace's prompt and notebook renderers have their own homes
here (``optimizers``, ``trace_opt.visualize``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar

__all__ = ["contain", "for_all_methods"]

C = TypeVar("C", bound=type)


def contain(container: Iterable[Any], item: Any) -> bool:
    """Whether ``item`` itself (not an equal value) is in ``container``.

    ``==`` on nodes compares their values, as in Trace, so ``x in nodes`` is true for any node
    with the same value; this asks for that very node.

    >>> import trace_opt as trace
    >>> from trace_opt.utils import contain
    >>> a, b = trace.node(1), trace.node(1)
    >>> a in [b], contain([b], a), contain([a, b], a)
    (True, False, True)
    """
    return any(item is x for x in container)


def for_all_methods(decorator: Callable[[Any], Any]) -> Callable[[C], C]:
    """Class decorator applying ``decorator`` to every callable attribute the class defines
    (dunder methods excepted), bundled methods included.

    >>> from trace_opt.utils import for_all_methods
    >>> def shout(fn):
    ...     return lambda *a: fn(*a).upper()
    >>> @for_all_methods(shout)
    ... class Greeter:
    ...     def hi(self):
    ...         return "hi"
    >>> Greeter().hi()
    'HI'
    """

    def decorate(cls: C) -> C:
        for name, attr in list(vars(cls).items()):
            if callable(attr) and not name.startswith("__"):
                setattr(cls, name, decorator(attr))
        return cls

    return decorate
