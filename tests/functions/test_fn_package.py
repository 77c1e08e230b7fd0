"""The shape of trace_opt.functions: public surface, doctests, small modules, no print/assert."""

from __future__ import annotations

import ast
import doctest
import importlib
import inspect
import pkgutil
from pathlib import Path

import pytest

import trace_opt.functions as functions

PACKAGE = Path(functions.__file__).parent
MODULES = ["trace_opt.functions"] + [f"trace_opt.functions.{m.name}" for m in pkgutil.iter_modules(functions.__path__)]


@pytest.mark.parametrize("name", MODULES)
def test_all_is_sorted_real_and_documented(name: str) -> None:
    module = importlib.import_module(name)
    assert module.__all__ == sorted(module.__all__)
    for attr in module.__all__:
        obj = getattr(module, attr)
        if callable(obj):
            assert inspect.getdoc(obj), f"{name}.{attr} has no docstring"


@pytest.mark.parametrize("name", MODULES)
def test_doctests(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0


@pytest.mark.parametrize("path", sorted(PACKAGE.glob("*.py")), ids=lambda p: p.name)
def test_small_modules_without_print_assert_or_own_errors(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 300, f"{path.name} is over the 300-line budget"
    for node in ast.walk(ast.parse(text)):
        assert not isinstance(node, ast.Assert), f"{path.name}:{node.lineno} uses assert"
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            assert node.func.id != "print", f"{path.name}:{node.lineno} prints; use logging"
        if isinstance(node, ast.ClassDef):
            assert not any(ast.unparse(b).endswith(("Error", "Exception")) for b in node.bases), path.name


def test_prompt_templates_are_used() -> None:
    from trace_opt.functions import prompts

    code = "\n".join(p.read_text(encoding="utf-8") for p in PACKAGE.glob("*.py") if p.name != "prompts.py")
    for name in prompts.__all__:
        assert f"prompts.{name}" in code, f"prompts.{name} is never used"
