"""The public surface: sorted ``__all__``, every name real and documented, Trace's names kept."""

from __future__ import annotations

import importlib
import inspect

import pytest

import trace_opt

MODULES = ["trace_opt", "trace_opt.errors", "trace_opt.nodes", "trace_opt.bundle", "trace_opt.graph",
           "trace_opt.propagation", "trace_opt.modules", "trace_opt.operators", "trace_opt.context"]  # fmt: skip


@pytest.mark.parametrize("name", MODULES)
def test_all_is_sorted_and_names_exist(name: str) -> None:
    mod = importlib.import_module(name)
    assert mod.__all__ == sorted(mod.__all__), f"{name}.__all__ is not sorted"
    assert len(set(mod.__all__)) == len(mod.__all__)
    for attr in mod.__all__:
        assert hasattr(mod, attr), f"{name}.__all__ names {attr}, which does not exist"


def test_public_symbols_have_docstrings() -> None:
    for attr in trace_opt.__all__:
        obj = getattr(trace_opt, attr)
        if inspect.ismodule(obj) or callable(obj):
            assert inspect.getdoc(obj), f"trace_opt.{attr} has no docstring"


def test_trace_core_names_are_available_for_porting() -> None:
    for name in ["node", "bundle", "model", "Module", "Node", "ParameterNode", "MessageNode",
                 "ExceptionNode", "ExecutionError", "stop_tracing"]:  # fmt: skip
        assert name in trace_opt.__all__
    n = trace_opt.node(1)
    assert hasattr(n, "data") and hasattr(n, "parents") and hasattr(n, "backward")


def test_unknown_attribute_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        trace_opt.nope  # noqa: B018
