"""Walking the graph: topological order, ancestors, the subgraph an optimizer shows, and a
networkx export.

Every walk here is iterative and visits each node and edge once, so graphs of 100k nodes
cost milliseconds and never hit Python's recursion limit.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .nodes import ExceptionNode, MessageNode, Node, ParameterNode

if TYPE_CHECKING:
    import networkx

__all__ = ["Subgraph", "ancestors", "subgraph", "to_networkx", "topological_order"]


def topological_order(outputs: Node[Any] | Iterable[Node[Any]]) -> list[Node[Any]]:
    """All ancestors of ``outputs`` (inclusive), parents before children.

    >>> import trace_opt as trace
    >>> x = trace.node(1); y = x + 1; z = y * 2
    >>> [n.data for n in trace.graph.topological_order(z)][-1]
    4
    """
    roots = [outputs] if isinstance(outputs, Node) else list(outputs)
    order: list[Node[Any]] = []
    seen: set[int] = set()
    for root in roots:
        if id(root) in seen:
            continue
        seen.add(id(root))
        # Post-order DFS with an explicit stack of (node, iterator over its parents).
        stack = [(root, iter(root._parents))]
        while stack:
            top, parents = stack[-1]
            for parent in parents:
                if id(parent) not in seen:
                    seen.add(id(parent))
                    stack.append((parent, iter(parent._parents)))
                    break
            else:
                stack.pop()
                order.append(top)
    return order


def ancestors(output: Node[Any]) -> set[Node[Any]]:
    """Every node ``output`` was computed from, excluding itself."""
    found = set(topological_order(output))
    found.discard(output)
    return found


@dataclass
class Subgraph:
    """What an optimizer needs to explain a set of parameters' effect on the outputs.

    ``ops`` are the operations on some path from a parameter to an output (in topological
    order), ``parameters`` the trainable nodes among them, ``inputs`` the other values those
    operations read (leaves and intermediate results not influenced by a parameter),
    ``outputs`` the nodes feedback was given on, with their feedback in ``feedback``.
    """

    ops: list[MessageNode[Any]] = field(default_factory=list)
    parameters: list[ParameterNode[Any]] = field(default_factory=list)
    inputs: list[Node[Any]] = field(default_factory=list)
    outputs: list[Node[Any]] = field(default_factory=list)
    feedback: dict[Node[Any], list[Any]] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.ops) + len(self.parameters) + len(self.inputs)

    @property
    def exceptions(self) -> list[ExceptionNode]:
        return [n for n in self.outputs if isinstance(n, ExceptionNode)]


def subgraph(parameters: Sequence[ParameterNode[Any]]) -> Subgraph:
    """The part of the graph between ``parameters`` and the outputs whose feedback reached them.

    Uses the feedback recorded by ``backward``: each Feedback item names its output.
    """
    params = list(dict.fromkeys(parameters))
    outputs: dict[Node[Any], list[Any]] = {}
    for p in params:
        for item in p.feedback:
            out = getattr(item, "output", None)
            if out is None:
                continue
            bucket = outputs.setdefault(out, [])
            if not any(item is seen for seen in bucket):
                bucket.append(item)
    order = topological_order(outputs)
    param_ids = {id(p) for p in params}
    influenced: set[int] = set()
    ops: list[MessageNode[Any]] = []
    for n in order:
        if id(n) in param_ids:
            influenced.add(id(n))
        elif any(id(p) in influenced for p in n._parents):
            influenced.add(id(n))
            if isinstance(n, MessageNode):
                ops.append(n)
    inputs: list[Node[Any]] = []
    seen: set[int] = set()
    for op in ops:
        for parent in op._parents:
            if id(parent) not in influenced and id(parent) not in seen:
                seen.add(id(parent))
                inputs.append(parent)
    used = [p for p in params if p.feedback]
    return Subgraph(ops=ops, parameters=used, inputs=inputs, outputs=list(outputs), feedback=outputs)


def to_networkx(output: Node[Any] | Iterable[Node[Any]]) -> networkx.DiGraph:
    """The graph behind ``output`` as a ``networkx.DiGraph`` (edges parent -> child).

    Graph nodes are the trace_opt nodes themselves; attributes ``name``, ``kind``, ``data``
    and ``trainable`` make it easy to filter and draw.

    >>> import trace_opt as trace
    >>> g = trace.to_networkx(trace.node(2) * 3)
    >>> g.number_of_nodes(), g.number_of_edges()
    (3, 2)
    """
    import networkx as nx  # a core dependency, but slow to import: only when exporting

    graph = nx.DiGraph()
    for n in topological_order(output):
        graph.add_node(n, name=n.py_name, kind=n.kind, data=n.data, trainable=n.trainable)
        for p in n._parents:
            graph.add_edge(p, n)
    return graph
