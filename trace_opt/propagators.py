"""Trace's ``opto.trace.propagators`` under the same name: the propagators live in
``trace_opt.propagation``; this module only gives ported code the import path it expects.

>>> import trace_opt as trace
>>> trace.propagators.GraphPropagator is trace.GraphPropagator
True
"""

from __future__ import annotations

from .propagation import Feedback, GraphPropagator, Propagator

__all__ = ["Feedback", "GraphPropagator", "Propagator"]
