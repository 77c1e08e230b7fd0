"""Trace's ``opto.trace.propagators`` under the same name: the propagators live in
``trace_opt.propagation``; this module gives ported code the import path it expects, plus
Trace's ``SumPropagator``.

Trace's ``TraceGraph`` (the summary its GraphPropagator merges at every node) has no
counterpart: ``trace_opt.subgraph(params)`` builds the same view once, on demand.

>>> import trace_opt as trace
>>> trace.propagators.GraphPropagator is trace.GraphPropagator
True
"""

from __future__ import annotations

from typing import Any

from .nodes import Node
from .propagation import Feedback, GraphPropagator, Propagator

__all__ = ["Feedback", "GraphPropagator", "Propagator", "SumPropagator"]


class SumPropagator(Propagator):
    """Trace's ``SumPropagator``: the raw feedback travels unchanged, and a node that receives
    feedback from several children keeps their sum (strings are concatenated in the order the
    children were reached).

    >>> import trace_opt as trace
    >>> x = trace.node(1)
    >>> y = x + x
    >>> y.backward(2, propagator=trace.propagators.SumPropagator())
    >>> x.feedback
    [4]
    """

    def init(self, output: Node[Any], feedback: Any) -> Any:
        return feedback.value if isinstance(feedback, Feedback) else feedback

    def aggregate(self, node: Node[Any], items: list[Any]) -> Any:
        if len(items) == 1:
            return items[0]
        if all(isinstance(i, str) for i in items):
            return "".join(items)
        return sum(items)
