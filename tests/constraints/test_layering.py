"""Constraints sit low in the layers: the standard library and ``trace_opt.errors`` at module level;
the libraries that do the JSON work (jsonschema, pydantic, llama-cpp-python) only inside functions."""

from __future__ import annotations

import ast
import pathlib
import subprocess
import sys

import trace_opt.constraints as constraints

PACKAGE = pathlib.Path(constraints.__file__).parent


LAZY = {"jsonschema", "referencing", "pydantic", "typing_extensions", "llama_cpp"}


def imported_modules(path: pathlib.Path) -> list[tuple[int, str, bool]]:
    """``(level, module, at module level)`` of every import in ``path``."""
    tree = ast.parse(path.read_text())
    top_level = {id(node) for node in tree.body}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(0, alias.name, id(node) in top_level) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            found.append((node.level, node.module or "", id(node) in top_level))
    return found


def test_constraints_import_only_stdlib_and_errors() -> None:
    for path in PACKAGE.glob("*.py"):
        for level, module, eager in imported_modules(path):
            if level == 1:
                continue  # a sibling in trace_opt.constraints
            if level == 2:
                assert module == "errors", f"{path.name} imports trace_opt.{module}"
                continue
            top = module.split(".")[0]
            allowed = top == "__future__" or top in sys.stdlib_module_names or (top in LAZY and not eager)
            assert allowed, f"{path.name} imports {module}" + (" at module level" if top in LAZY else "")


def test_importing_constraints_loads_no_heavy_module() -> None:
    code = "import sys, trace_opt.constraints; print(sorted(m for m in ('pydantic', 'llama_cpp', 'litellm', 'numpy', 'jsonschema', 'referencing') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_all_is_sorted_and_public_names_are_documented() -> None:
    assert constraints.__all__ == sorted(constraints.__all__)
    for name in constraints.__all__:
        obj = getattr(constraints, name)
        assert obj.__doc__ and ">>>" in obj.__doc__, f"{name} needs a docstring with an example"
