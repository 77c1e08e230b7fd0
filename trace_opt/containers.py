"""``NodeContainer``: mark a class whose attributes hold nodes, so ``apply_op`` broadcasts
an operation over its attributes (Trace's ``opto.trace.containers.NodeContainer``).

>>> import trace_opt as trace
>>> class Pair(trace.NodeContainer):
...     def __init__(self, a, b):
...         self.a, self.b = trace.node(a), trace.node(b)
>>> out = trace.apply_op(trace.operators.add, Pair(0, 0), Pair(1, 2), Pair(10, 20))
>>> out.a.data, out.b.data
(11, 22)
"""

from __future__ import annotations

__all__ = ["NodeContainer"]


class NodeContainer:
    """Base class for objects whose attributes (in ``vars(obj)``) are nodes or containers of
    nodes. It adds no behaviour: ``apply_op`` recognises it and walks its attributes."""
