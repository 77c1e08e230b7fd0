"""Backward: sending feedback from an output to everything it was computed from.

One reverse-topological sweep visits each node and edge once, so backward is linear in the
size of the graph (Trace rebuilds and merges a subgraph summary at every node, which is
quadratic). What travels along the edges is decided by a ``Propagator``:

- ``GraphPropagator`` (the default) passes the output's ``Feedback`` unchanged, so every
  ancestor learns which output was judged and how; optimizers then ask ``graph.subgraph``
  for the part of the graph they need to show.
- Other propagators (TextGrad's textual gradients, say) compute a new item per edge.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from .errors import BackwardError
from .graph import topological_order
from .nodes import MessageNode, Node, check_backward_target

__all__ = ["Feedback", "GraphPropagator", "Propagator", "backward"]


@dataclass(eq=False)
class Feedback:
    """Feedback on one output: the user's words (or any value), the output they judged, and
    an optional numeric score. Hashed by identity, like nodes."""

    value: Any
    output: Node[Any]
    score: float | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def text(self) -> str:
        return self.value if isinstance(self.value, str) else str(self.value)

    def __repr__(self) -> str:
        return f"Feedback({self.text[:60]!r}, output={self.output.py_name})"


class Propagator:
    """How feedback moves along one edge. Subclass and override ``propagate`` (and
    ``aggregate`` if a node receiving several items should combine them)."""

    def init(self, output: Node[Any], feedback: Any) -> Any:
        """The item the output itself receives."""
        if isinstance(feedback, Feedback):
            return feedback
        return Feedback(feedback, output)

    def aggregate(self, node: Node[Any], items: list[Any]) -> Any:
        """Combine what ``node``'s children sent it into the item it keeps and passes on."""
        unique: list[Any] = []
        for item in items:
            if not any(item is u for u in unique):
                unique.append(item)
        return unique[0] if len(unique) == 1 else unique

    def propagate(self, node: Node[Any], item: Any) -> Iterable[tuple[Node[Any], Any]]:
        """``(parent, item)`` pairs: what each parent of ``node`` receives."""
        return ((parent, item) for parent in node._parents)


class GraphPropagator(Propagator):
    """Pass the output's feedback to every ancestor unchanged (the default)."""


_DEFAULT = GraphPropagator()


def backward(
    output: Node[Any],
    feedback: Any = "",
    propagator: Propagator | None = None,
    retain_graph: bool = False,
) -> None:
    """Propagate ``feedback`` on ``output`` to every ancestor; see ``Node.backward``."""
    output = check_backward_target(output)
    if isinstance(output, MessageNode) and output._backwarded:
        raise BackwardError(
            f"{output.py_name} was already backwarded",
            hint="pass retain_graph=True to the first backward to give feedback on it again",
        )
    prop = propagator if propagator is not None else _DEFAULT
    first = prop.init(output, feedback)
    order = topological_order(output)
    if type(prop) is GraphPropagator:
        # Fast path: the same item goes everywhere, no per-edge bookkeeping needed.
        for n in order:
            n._add_feedback(first)
    else:
        pending: dict[int, list[Any]] = {id(output): [first]}
        for n in reversed(order):
            items = pending.pop(id(n), None)
            if not items:
                continue
            item = prop.aggregate(n, items)
            n._add_feedback(item)
            for parent, sent in prop.propagate(n, item):
                pending.setdefault(id(parent), []).append(sent)
    if not retain_graph and isinstance(output, MessageNode):
        output._backwarded = True


def _node_backward(
    self: Node[Any],
    feedback: Any = "",
    propagator: Propagator | None = None,
    retain_graph: bool = False,
    visualize: bool = False,
) -> Any:
    """Send ``feedback`` about this output to every node it was computed from.

    Feedback accumulates across calls (one per minibatch example) until the optimizer's
    ``zero_feedback``. With ``visualize=True`` the graph picture is returned (needs the
    ``viz`` extra).

    >>> import trace_opt as trace
    >>> p = trace.node("hi", trainable=True)
    >>> (p + "!").backward("too short")
    >>> p.feedback[0].text
    'too short'
    """
    backward(self, feedback, propagator=propagator, retain_graph=retain_graph)
    if visualize:
        render = getattr(type(self), "_render", None)  # installed by trace_opt.visualize
        return render(self) if render is not None else None
    return None


setattr(Node, "backward", _node_backward)
