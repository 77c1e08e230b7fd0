"""trace_opt: build LLM programs from plain Python and train their prompts and code from
feedback, the way PyTorch trains networks.

>>> import trace_opt as trace
>>> prompt = trace.node("Decide the language", trainable=True)
>>> @trace.bundle()
... def greet(lang, name):
...     return f"Hello, {name}!"
>>> out = greet(trace.node("es"), "Juan")
>>> out.data
'Hello, Juan!'

The same names as Microsoft Trace's ``opto.trace`` core, so a Trace program ports by
changing its imports. Submodules with optional heavy dependencies (``llm``, ...) load on
first use.
"""

from __future__ import annotations

import importlib
from typing import Any

from . import broadcast as broadcast
from . import containers as containers
from . import errors as errors
from . import node_methods as _node_methods
from . import nodes as nodes
from . import operators as operators
from . import propagation as _propagation
from . import propagators as propagators
from . import secrets as _secrets
from . import visualize as _visualize
from .broadcast import apply_op
from .bundle import CodeParameter, FunModule, bundle
from .constraints import Choice, Grammar, JSONSchema, MaxTokens, Prefix, Regex, Stop
from .context import is_tracing, stop_tracing, tracing
from .errors import ExecutionError, TraceOptError
from .compose import Composition, Generate, Template, gen, run, template
from .execution import map, parallel
from .graph import Subgraph, subgraph, to_networkx, topological_order
from .containers import NodeContainer
from .modules import Module, model
from .nodes import GRAPH, ExceptionNode, MessageNode, Node, ParameterNode, WithInfo, node, stable_names
from .propagation import Feedback, GraphPropagator, Propagator
from .session import Session
from .visualize import render

__version__ = "0.1.0"

__all__ = [
    "Choice",
    "CodeParameter",
    "Composition",
    "ExceptionNode",
    "ExecutionError",
    "Feedback",
    "FunModule",
    "GRAPH",
    "Generate",
    "Grammar",
    "GraphPropagator",
    "JSONSchema",
    "MaxTokens",
    "MessageNode",
    "Module",
    "Node",
    "NodeContainer",
    "ParameterNode",
    "Prefix",
    "Propagator",
    "Regex",
    "Run",
    "Session",
    "Stop",
    "Store",
    "Subgraph",
    "Template",
    "TraceOptError",
    "WithInfo",
    "apply_op",
    "broadcast",
    "bundle",
    "containers",
    "errors",
    "gen",
    "is_tracing",
    "llm_function",
    "llm_strategy",
    "map",
    "model",
    "node",
    "nodes",
    "operators",
    "parallel",
    "propagators",
    "record",
    "render",
    "request_input",
    "run",
    "stable_names",
    "stop_tracing",
    "subgraph",
    "template",
    "to_networkx",
    "topological_order",
    "tracing",
]

# Loaded on first attribute access: they pull optional packages (sqlite, litellm...) or are
# rarely needed, and `import trace_opt` should stay fast.
_LAZY_SUBMODULES = {"distributed", "functions", "llm", "replay", "sandbox", "store"}
_LAZY_NAMES = {
    "Run": "replay",
    "Store": "store",
    "llm_function": "functions",
    "llm_strategy": "functions",
    "record": "replay",
    "request_input": "replay",
}

del _node_methods, _propagation, _visualize
_secrets.install_log_filter()  # loggers made at import time; later ones use secrets.logger


def __getattr__(name: str) -> Any:
    if name in _LAZY_SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    if name in _LAZY_NAMES:
        return getattr(importlib.import_module(f"{__name__}.{_LAZY_NAMES[name]}"), name)
    raise AttributeError(f"module 'trace_opt' has no attribute {name!r}")
