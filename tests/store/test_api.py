"""The public surface of trace_opt.store and trace_opt.replay: sorted, documented, examples run."""

from __future__ import annotations

import doctest
import importlib
import inspect
import pkgutil

import pytest

import trace_opt.replay
import trace_opt.store

PACKAGES = [trace_opt.store, trace_opt.replay]
MODULES = [p.__name__ for p in PACKAGES] + [
    f"{p.__name__}.{m.name}" for p in PACKAGES for m in pkgutil.iter_modules(p.__path__)
]


@pytest.mark.parametrize("name", MODULES)
def test_all_is_sorted_real_and_documented(name: str) -> None:
    mod = importlib.import_module(name)
    assert mod.__doc__, f"{name} has no module docstring"
    assert mod.__all__ == sorted(mod.__all__), f"{name}.__all__ is not sorted"
    for attr in mod.__all__:
        obj = getattr(mod, attr)
        if inspect.isclass(obj) or inspect.isfunction(obj):
            assert inspect.getdoc(obj), f"{name}.{attr} has no docstring"


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0


@pytest.mark.parametrize("package", PACKAGES, ids=lambda p: p.__name__)
def test_public_names_have_examples(package: object) -> None:
    for attr in package.__all__:  # type: ignore[attr-defined]
        obj = getattr(package, attr)
        if inspect.isclass(obj) or inspect.isfunction(obj):
            doc = inspect.getdoc(obj) or ""
            assert ">>>" in doc, f"{attr} has no example"
