"""The shape of optimizers.meta: public surface, doctests, small modules, no print/assert."""

from __future__ import annotations

import ast
import doctest
import importlib
import inspect
import pkgutil
import sys
from pathlib import Path

import pytest

import optimizers.meta as meta

PACKAGE = Path(meta.__file__).parent
MODULES = ["optimizers.meta"] + [f"optimizers.meta.{m.name}" for m in pkgutil.iter_modules(meta.__path__)]


@pytest.mark.parametrize("name", MODULES)
def test_all_is_sorted_real_and_documented(name: str) -> None:
    module = importlib.import_module(name)
    assert module.__all__ == sorted(module.__all__)
    for attr in module.__all__:
        obj = getattr(module, attr)
        if inspect.isclass(obj) or inspect.isfunction(obj):
            assert inspect.getdoc(obj), f"{name}.{attr} has no docstring"


@pytest.mark.parametrize("name", MODULES)
def test_doctests(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0


@pytest.mark.parametrize("path", sorted(PACKAGE.glob("*.py")), ids=lambda p: p.name)
def test_small_modules_stdlib_and_trace_opt_only(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 300, f"{path.name} is over the 300-line budget"
    tree = ast.parse(text)
    for node in ast.walk(tree):
        assert not isinstance(node, ast.Assert), f"{path.name}:{node.lineno} uses assert"
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            assert node.func.id != "print", f"{path.name}:{node.lineno} prints; use logging"
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and not node.level and node.module:
            top = node.module.split(".")[0]
            assert top in sys.stdlib_module_names or top in ("trace_opt", "__future__"), f"{path.name} imports {top}"


def test_the_llm_steps_are_stubs_with_their_prompt_as_docstring() -> None:
    from optimizers.meta import steps
    from trace_opt.functions import LLMFunction

    for name in steps.__all__:
        fn = getattr(steps, name)
        assert isinstance(fn, LLMFunction) and len(fn.instruction.data) > 100
