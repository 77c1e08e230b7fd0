"""Graph nodes: values that remember where they came from.

A node holds a value (``.data``) and the nodes it was computed from (``.parents``). There is
no global registry, and a node knows its children only through weak references: a graph is
kept alive only by the output the user holds, and it is freed when that output is dropped
(Trace's global ``GRAPH`` keeps every node forever; ``GRAPH`` here is a no-op kept for ported
code). As in Trace, ``==`` compares the wrapped values while hashing is by identity, so two
nodes with equal values stay two dict keys; code that needs identity says ``is``.

Behaviour that needs higher layers is attached to ``Node`` by those layers, so this module
imports nothing above it: the traced operators (``+``, ``[]``, method calls on the wrapped
value, ...) by ``trace_opt.operators``, ``Node.backward`` by ``trace_opt.propagation``, and
the Jupyter picture by ``trace_opt.visualize``. ``import trace_opt`` loads all of them.

The package is split by job: ``kinds`` (the node classes), ``make`` (``node()``), ``naming``
(names and ``stable_names``), ``links`` (weak children), ``opinfo`` (what an operation is),
``frames`` (exceptions as feedback), ``text`` (reprs and descriptions), ``walk`` (ancestry and
depth) and ``registry`` (the no-op ``GRAPH``). Import from ``trace_opt.nodes``: the submodules
are private.
"""

from __future__ import annotations

from .frames import format_exception  # also imported from here by other layers, like check_backward_target
from .kinds import ExceptionNode, MessageNode, Node, ParameterNode
from .make import check_backward_target, node
from .naming import Naming, stable_names
from .opinfo import OpInfo, WithInfo
from .registry import GRAPH

__all__ = [
    "ExceptionNode",
    "GRAPH",
    "MessageNode",
    "Naming",
    "Node",
    "OpInfo",
    "ParameterNode",
    "WithInfo",
    "node",
    "stable_names",
]
