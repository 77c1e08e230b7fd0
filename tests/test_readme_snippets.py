"""README code pastes as written: every attribute chain starts from a name an earlier line of
the README's code binds (an import, an assignment, a def) -- no ``trace_opt.x`` after
``import trace_opt as trace``."""

from __future__ import annotations

import ast
import builtins
import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def _blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)


def _bound(tree: ast.AST) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names |= {(a.asname or a.name).split(".")[0] for a in node.names}
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
            names |= {a.arg for a in ast.walk(node.args) if isinstance(a, ast.arg)} if not isinstance(node, ast.ClassDef) else set()
        elif isinstance(node, ast.Lambda):
            names |= {a.arg for a in ast.walk(node.args) if isinstance(a, ast.arg)}
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            names.add(node.name)
    return names


def test_every_attribute_chain_in_the_readme_starts_from_a_bound_name() -> None:
    bound = set(dir(builtins))
    unbound = []
    for i, source in enumerate(_blocks()):
        tree = ast.parse(source)
        bound |= _bound(tree)
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute):
                root = node
                while isinstance(root, ast.Attribute):
                    root = root.value  # type: ignore[assignment]
                if isinstance(root, ast.Name) and root.id not in bound:
                    unbound.append(f"block {i + 1}: {ast.unparse(node)}")
    assert not unbound, unbound
