"""Traced operators: Python's operators and method calls on nodes.

Each operator is a bundled function (so failures become ExceptionNodes like any other call),
marked ``operator=True`` so optimizer prompts show it as one short line such as
``add_7 = add(x=prompt_3, y=str_5)``. Importing this module attaches them to ``Node``.

Not traced, because Python demands plain values: ``bool(node)``, ``len(node)``, ``x in node``,
``==`` (identity). Use ``node.len()``, ``node.eq(y)``, ``node.contains(x)`` for traced forms.
"""

from __future__ import annotations

import operator as _op
from collections.abc import Callable, Iterator
from typing import Any

from .bundle import FunModule
from .nodes import Node

__all__ = [
    "add", "call", "call_method", "contains", "eq", "floordiv", "format", "ge", "getattr_", "getitem",
    "gt", "invert", "le", "len_", "lt", "mod", "mul", "ne", "neg", "pos", "pow", "sub", "to_list",
    "truediv", "and_", "or_", "xor", "abs_",
]  # fmt: skip
__all__.sort()


def _operator(fn: Callable[..., Any], name: str, doc: str) -> FunModule:
    return FunModule(fn, description=doc, name=name, operator=True)


# fmt: off
add = _operator(lambda x, y: x + y, "add", "x + y: adds numbers or concatenates strings and lists.")
sub = _operator(lambda x, y: x - y, "sub", "x - y")
mul = _operator(lambda x, y: x * y, "mul", "x * y")
truediv = _operator(lambda x, y: x / y, "truediv", "x / y")
floordiv = _operator(lambda x, y: x // y, "floordiv", "x // y")
mod = _operator(lambda x, y: x % y, "mod", "x % y (also %-formatting of strings)")
pow = _operator(lambda x, y: x ** y, "pow", "x ** y")  # noqa: A001 - mirrors the operator name
and_ = _operator(lambda x, y: x & y, "and_", "x & y")
or_ = _operator(lambda x, y: x | y, "or_", "x | y")
xor = _operator(lambda x, y: x ^ y, "xor", "x ^ y")
neg = _operator(lambda x: -x, "neg", "-x")
pos = _operator(lambda x: +x, "pos", "+x")
invert = _operator(lambda x: ~x, "invert", "~x")
abs_ = _operator(lambda x: abs(x), "abs", "abs(x)")
lt = _operator(lambda x, y: x < y, "lt", "x < y")
le = _operator(lambda x, y: x <= y, "le", "x <= y")
gt = _operator(lambda x, y: x > y, "gt", "x > y")
ge = _operator(lambda x, y: x >= y, "ge", "x >= y")
eq = _operator(lambda x, y: x == y, "eq", "x == y (value equality)")
ne = _operator(lambda x, y: x != y, "ne", "x != y (value inequality)")
getitem = _operator(lambda x, index: x[index], "getitem", "x[index]")
len_ = _operator(lambda x: len(x), "len", "len(x)")
contains = _operator(lambda x, item: item in x, "contains", "item in x")
getattr_ = _operator(lambda x, name: getattr(x, name), "getattr", "x.name: reads an attribute")
call = _operator(lambda fn, *args, **kwargs: fn(*args, **kwargs), "call", "fn(*args, **kwargs)")
to_list = _operator(lambda x: list(x), "to_list", "list(x): materialises an iterable")
format = _operator(  # noqa: A001
    lambda template, *args, **kwargs: template.format(*args, **kwargs), "format", "template.format(*args, **kwargs)"
)
# fmt: on

_method_ops: dict[str, FunModule] = {}


def call_method(obj: Any, method: str, *args: Any, **kwargs: Any) -> Any:
    """Traced ``obj.method(*args, **kwargs)``; the operation is named after the method."""
    op = _method_ops.get(method)
    if op is None:

        def run(x: Any, *args: Any, **kwargs: Any) -> Any:
            return getattr(x, method)(*args, **kwargs)

        op = _method_ops.setdefault(
            method, FunModule(run, description=f"x.{method}(...): calls the method {method!r} of x", name=method, operator=True)
        )
    return op(obj, *args, **kwargs)


class _MethodProxy:
    """What ``node.method`` returns when the wrapped value's attribute is callable, so that
    ``node.method(...)`` becomes one traced operation."""

    __slots__ = ("_node", "_method")

    def __init__(self, node: Node[Any], method: str) -> None:
        self._node = node
        self._method = method

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return call_method(self._node, self._method, *args, **kwargs)

    def __repr__(self) -> str:
        return f"<traced method {self._method} of {self._node.name}>"


def _getattr(self: Node[Any], name: str) -> Any:
    if name.startswith("_"):
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
    try:
        value = getattr(self._data, name)
    except AttributeError:
        raise AttributeError(
            f"{type(self).__name__} {self.name} has no attribute {name!r} and neither does its value "
            f"of type {type(self._data).__name__}"
        ) from None
    if callable(value):
        return _MethodProxy(self, name)
    return getattr_(self, name)


def _iter(self: Node[Any]) -> Iterator[Node[Any]]:
    data = self._data
    source = self if isinstance(data, (list, tuple, str)) else to_list(self)
    for i in range(len(source._data)):
        yield getitem(source, i)


def _binary(fn: FunModule) -> tuple[Callable[..., Any], Callable[..., Any]]:
    return (lambda self, other: fn(self, other)), (lambda self, other: fn(other, self))


def _install() -> None:
    table = {
        "add": add, "sub": sub, "mul": mul, "truediv": truediv, "floordiv": floordiv, "mod": mod,
        "pow": pow, "and": and_, "or": or_, "xor": xor,
    }  # fmt: skip
    for name, fn in table.items():
        forward, reflected = _binary(fn)
        setattr(Node, f"__{name}__", forward)
        setattr(Node, f"__r{name}__", reflected)
    for name, fn in {"lt": lt, "le": le, "gt": gt, "ge": ge}.items():
        setattr(Node, f"__{name}__", _binary(fn)[0])
    unary = {"__neg__": neg, "__pos__": pos, "__invert__": invert, "__abs__": abs_, "len": len_}
    for attr, fn in unary.items():
        setattr(Node, attr, lambda self, _fn=fn: _fn(self))
    binary = {"__getitem__": getitem, "eq": eq, "ne": ne, "contains": contains, "getattr": getattr_}
    for attr, fn in binary.items():
        setattr(Node, attr, lambda self, other, _fn=fn: _fn(self, other))
    setattr(Node, "__call__", lambda self, *a, **k: call(self, *a, **k))
    setattr(Node, "__iter__", _iter)
    setattr(Node, "__getattr__", _getattr)

_install()
