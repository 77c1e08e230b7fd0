"""Python's operators and Trace's node methods, attached to ``Node``.

``nodes`` sits below ``bundle`` and ``operators`` (a node knows nothing of calls), so the
traced methods are installed on ``Node`` from here, one layer up; ``import trace_opt`` loads
this module.

What a node answers, and why:

- Arithmetic, bitwise (``<<``, ``>>`` included), ordering comparisons, ``[]``, ``round``,
  ``math.floor``/``ceil``/``trunc``, ``divmod`` and iteration are traced, in both operand
  orders, as in Trace.
- ``node(f)(...)`` is a traced call; as in Trace, arguments that are nodes reach ``f`` as
  nodes (see ``operators.call``). ``node.call(name, *args)`` calls a method of the value.
- Attribute access reaches the value only for Python's built-in types (``s.lower()``,
  ``d.items()``, ``xs.index(3)``...). For any other object it raises ``AttributeError``, as
  Trace does: ``node.getattr(name)`` and ``node.call(name, ...)`` are the traced spellings, so a
  typo never turns into a silently traced attribute.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from . import operators as ops
from .nodes import Node, node


class _MethodProxy:
    """What ``node.method`` returns when the wrapped value's attribute is callable, so that
    ``node.method(...)`` becomes one traced operation."""

    __slots__ = ("_node", "_method")

    def __init__(self, node: Node[Any], method: str) -> None:
        self._node = node
        self._method = method

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return ops.call_method(self._node, self._method, *args, **kwargs)

    def __repr__(self) -> str:
        return f"<traced method {self._method} of {self._node.py_name}>"


def _getattr(self: Node[Any], name: str) -> Any:
    data = self._data
    if name.startswith("_") or type(data).__module__ != "builtins":
        raise AttributeError(
            f"{type(self).__name__} {self.name} has no attribute {name!r} (it wraps a "
            f"{type(data).__name__}) (help: use node.getattr({name!r}) or node.call({name!r}, ...) for a "
            f"traced attribute or method of the value, or node.data.{name} for an untraced one)"
        )
    try:
        value = getattr(data, name)
    except AttributeError:
        raise AttributeError(
            f"{type(self).__name__} {self.name} has no attribute {name!r} and neither does its value "
            f"of type {type(data).__name__}"
        ) from None
    if callable(value):
        return _MethodProxy(self, name)
    return ops.getattr_(self, name)


def _iter(self: Node[Any]) -> Iterator[Node[Any]]:
    data = self._data
    if isinstance(data, dict):
        source = ops.keys(self)
    elif hasattr(data, "__getitem__") and hasattr(data, "__len__") and not isinstance(data, (set, frozenset)):
        source = self
    else:
        source = ops.to_list(self)
    for i in range(len(source._data)):
        yield ops.getitem(source, i)


def _items(self: Node[Any]) -> Any:
    """Trace's ``items()`` on a dict node: ``(key, value)`` node pairs, where each key is an
    item of ``keys(d)`` and each value is ``d[key]`` (both traced)."""
    if not isinstance(self._data, dict):
        return _getattr(self, "items")()
    keys = ops.keys(self)
    return [(k, ops.getitem(self, k)) for k in (ops.getitem(keys, i) for i in range(len(keys._data)))]


def _dict_method(name: str, op: Callable[..., Any]) -> Callable[[Node[Any]], Any]:
    def method(self: Node[Any]) -> Any:
        if isinstance(self._data, dict):
            return op(self)
        return _getattr(self, name)()

    method.__name__ = name
    method.__doc__ = f"Trace's ``{name}()`` on a dict node: a traced list; other values: their own ``{name}``."
    return method


def _join(self: Node[Any], seq: Any) -> Any:
    """``sep.join(seq)`` with every item of ``seq`` a parent (Trace's ``join``)."""
    if not isinstance(self._data, str):
        return _getattr(self, "join")(seq)
    try:
        items = list(seq)
    except TypeError:
        raise TypeError(f"join needs an iterable, got {type(seq).__name__}") from None
    return ops.join(self, *items)


def _pop(self: Node[Any], index: Any = -1) -> Any:
    """Trace's ``pop``: removes and returns an item of the value itself (traced)."""
    return ops.pop(self, index)


def _call(self: Node[Any], fun: str, *args: Any, **kwargs: Any) -> Any:
    """Call the method ``fun`` of the value: ``node.getattr(fun)(*args)``, arguments as nodes."""
    return ops.node_getattr(self, fun)(*(node(a) for a in args), **{k: node(v) for k, v in kwargs.items()})


def _install() -> None:
    binary: dict[str, Callable[..., Any]] = {
        "add": ops.add, "sub": ops.sub, "mul": ops.mul, "truediv": ops.truediv, "floordiv": ops.floordiv,
        "mod": ops.mod, "pow": ops.pow, "lshift": ops.lshift, "rshift": ops.rshift, "and": ops.and_,
        "or": ops.or_, "xor": ops.xor, "divmod": ops.node_divmod,
    }  # fmt: skip
    for name, fn in binary.items():
        setattr(Node, f"__{name}__", lambda self, other, _fn=fn: _fn(self, other))
        setattr(Node, f"__r{name}__", lambda self, other, _fn=fn: _fn(other, self))
    for name, fn in {"lt": ops.lt, "le": ops.le, "gt": ops.gt, "ge": ops.ge}.items():
        setattr(Node, f"__{name}__", lambda self, other, _fn=fn: _fn(self, other))
    unary: dict[str, Callable[..., Any]] = {
        "__neg__": ops.neg, "__pos__": ops.pos, "__invert__": ops.invert, "__abs__": ops.abs_, "__floor__": ops.floor,
        "__ceil__": ops.ceil, "__trunc__": ops.trunc, "len": ops.len_, "clone": ops.clone,
    }  # fmt: skip
    for attr, fn in unary.items():
        setattr(Node, attr, lambda self, _fn=fn: _fn(self))
    binary_methods: dict[str, Callable[..., Any]] = {
        "__getitem__": ops.getitem, "eq": ops.eq, "ne": ops.ne, "neq": ops.ne, "contains": ops.contains,
        "getattr": ops.node_getattr,
    }  # fmt: skip
    for attr, fn in binary_methods.items():
        setattr(Node, attr, lambda self, other, _fn=fn: _fn(self, other))
    setattr(Node, "__round__", lambda self, n=None: ops.round(self, n))
    setattr(Node, "__call__", lambda self, *a, **k: ops.call(self, *a, **k))
    setattr(Node, "__iter__", _iter)
    setattr(Node, "__getattr__", _getattr)
    setattr(Node, "keys", _dict_method("keys", ops.keys))
    setattr(Node, "values", _dict_method("values", ops.values))
    setattr(Node, "items", _items)
    setattr(Node, "join", _join)
    setattr(Node, "pop", _pop)
    setattr(Node, "call", _call)


_install()
