"""How a traced call reads its arguments: nodes inside lists, tuples and dicts.

A bundled call passes a node's value to the function and records the node as an input;
nodes inside list, tuple and dict arguments are unwrapped and recorded the same way
(``node("+").join([x, y])`` has ``x`` and ``y`` as inputs). Only those exact types are
looked into, and a container is rebuilt only when it holds a node, so plain arguments pass
through untouched.
"""

from __future__ import annotations

import copy
from typing import Any

from .containers import NodeContainer
from .nodes import Node

__all__ = ["SCANNED", "holds_node", "nodes_in", "same", "to_data", "unwrap"]

# Arguments of these exact types are searched for nodes (subclasses, e.g. named tuples, are
# passed as they are): the common path pays one type test for a non-node argument.
SCANNED = frozenset({list, tuple, dict})


# Values that never hold a node: a container of only these is not looked into further.
LEAVES = frozenset({int, float, str, bool, bytes, complex, type(None)})


def holds_node(value: Any) -> bool:
    """Whether a list, tuple or dict holds a node, at any depth. The element types are
    collected at C speed first (``set(map(type, ...))``), so a long list of plain data costs
    one pass without a Python-level step per item."""
    members = (value, value.values()) if type(value) is dict else (value,)
    types: set[type] = set()
    for m in members:
        types.update(map(type, m))
    if types <= LEAVES:
        return False
    if any(issubclass(t, Node) for t in types):
        return True
    if types & SCANNED:
        return any(type(v) in SCANNED and holds_node(v) for m in members for v in m)
    return False


def unwrap(value: Any) -> Any:
    """``value`` with every node inside lists, tuples and dicts replaced by its data."""
    if isinstance(value, Node):
        return value._data
    t = type(value)
    if t is list:
        return [unwrap(v) for v in value]
    if t is tuple:
        return tuple(unwrap(v) for v in value)
    if t is dict:
        return {unwrap(k): unwrap(v) for k, v in value.items()}
    return value


def to_data(obj: Any) -> Any:
    """``obj`` with each node replaced by its value, inside tuples, lists, dict values, sets
    and ``NodeContainer`` attributes too (Trace's ``to_data``; containers are copied, the
    argument is not changed). A bundled call does this to its arguments itself.

    >>> import trace_opt as trace
    >>> from trace_opt.bundle import to_data
    >>> to_data({"a": [trace.node(1), 2], "b": (trace.node("x"),)})
    {'a': [1, 2], 'b': ('x',)}
    """
    if isinstance(obj, Node):
        return obj._data
    if isinstance(obj, tuple):
        return tuple(to_data(v) for v in obj)
    if isinstance(obj, list):
        return [to_data(v) for v in obj]
    if isinstance(obj, dict):
        return {k: to_data(v) for k, v in obj.items()}
    if isinstance(obj, set):
        return {to_data(v) for v in obj}
    if isinstance(obj, NodeContainer):
        out = copy.copy(obj)
        for k, v in vars(obj).items():
            setattr(out, k, to_data(v))
        return out
    return obj


def same(value: Any) -> Any:
    return value


def nodes_in(value: Any) -> list[Node[Any]]:
    """The nodes inside ``value``, in order, each once."""
    found: dict[int, Node[Any]] = {}
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, Node):
            found.setdefault(id(v), v)
            continue
        t = type(v)
        if t is list or t is tuple:
            stack.extend(reversed(v))
        elif t is dict:
            for k, item in reversed(list(v.items())):
                stack.extend((item, k))
    return list(found.values())
