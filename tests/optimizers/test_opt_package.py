"""The package's shape: public surface, doctests, imports, line budget, prompts as data."""

from __future__ import annotations

import ast
import doctest
import importlib
import inspect
import re
import subprocess
import sys
from pathlib import Path

import pytest

import optimizers

PACKAGE = Path(optimizers.__file__).parent
MODULES = sorted(f"optimizers.{p.stem}" for p in PACKAGE.glob("*.py") if p.stem != "__init__")
SOURCES = sorted(PACKAGE.glob("*.py"))
HEAVY = {"litellm", "graphviz", "llama_cpp", "numpy", "networkx", "openai", "pydantic", "opto", "tqdm"}


def test_all_is_sorted_real_and_documented() -> None:
    assert optimizers.__all__ == sorted(optimizers.__all__)
    for name in optimizers.__all__:
        obj = getattr(optimizers, name)
        assert inspect.getdoc(obj), f"optimizers.{name} has no docstring"
    for cls in (optimizers.OptoPrime, optimizers.TextGrad, optimizers.OPRO):
        assert issubclass(cls, optimizers.Optimizer)
        for method in ("zero_feedback", "backward", "propose", "update", "step", "state_dict", "load_state_dict"):
            assert inspect.getdoc(getattr(cls, method)), f"{cls.__name__}.{method} has no docstring"


@pytest.mark.parametrize("name", ["optimizers", *MODULES])
def test_doctests(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.name)
def test_imports_only_trace_opt_and_the_standard_library(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in tree.body:
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            names = [node.module]
        for name in names:
            top = name.split(".")[0]
            assert top not in HEAVY, f"{path.name}:{node.lineno} imports {name} at module level"
            assert top in sys.stdlib_module_names or top in ("trace_opt", "__future__"), f"{path.name} imports {name}"


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.name)
def test_small_rooms_no_print_no_assert_no_own_errors(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 300, f"{path.name} is over the 300-line budget"
    tree = ast.parse(text)
    for node in ast.walk(tree):
        assert not isinstance(node, ast.Assert), f"{path.name}:{node.lineno} uses assert"
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            assert node.func.id != "print", f"{path.name}:{node.lineno} prints; use logging"
        if isinstance(node, ast.ClassDef):
            bases = {ast.unparse(b) for b in node.bases}
            assert not any(b.endswith(("Error", "Exception")) for b in bases), (
                f"{path.name} defines exception {node.name}: errors live in trace_opt/errors.py"
            )


def test_import_loads_no_heavy_module_and_the_core_never_imports_optimizers() -> None:
    code = (
        "import sys, optimizers\n"
        f"print(','.join(sorted(m for m in {sorted(HEAVY)!r} if m in sys.modules)))\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=PACKAGE.parent)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == ""
    core = PACKAGE.parent / "trace_opt"
    for path in core.rglob("*.py"):
        assert not re.search(r"^\s*(from|import) optimizers", path.read_text(encoding="utf-8"), re.M), path


def test_every_prompt_template_is_used_and_every_used_one_exists() -> None:
    files = {p.stem for p in (PACKAGE / "prompts").glob("*.txt")}
    used = set()
    for path in SOURCES:
        used |= set(re.findall(r'(?:render|fill)\(\s*"(\w+)"', path.read_text(encoding="utf-8")))
    assert used == files
