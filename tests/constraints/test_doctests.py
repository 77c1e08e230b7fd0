"""The examples in the constraints docstrings run and say what they show."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import trace_opt.constraints as constraints

MODULES = ["trace_opt.constraints"] + [f"trace_opt.constraints.{m.name}" for m in pkgutil.iter_modules(constraints.__path__)]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
