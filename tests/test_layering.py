"""The import rule of STYLE.md, enforced: each module imports only its own layer or lower ones.

errors → context → nodes → graph/propagation/constraints → bundle/operators/modules →
llm, cache, store/replay, execution, sandbox → visualize → the package surface and CLI.
``trace_opt`` never imports ``optimizers``; heavy optional packages are never imported at
module level.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "trace_opt"

LAYERS: list[set[str]] = [
    {"errors", "secrets"},
    {"context", "sqlite"},
    {"nodes", "containers"},
    {"graph", "propagation", "propagators", "constraints", "sandbox", "broadcast"},
    {"bundle", "operators", "node_methods", "modules"},
    {"llm", "cache", "store", "replay", "record", "execution", "distributed", "compose", "faults", "functions", "session"},
    {"visualize", "report", "telemetry", "integrations"},
    {"__init__", "cli", "__main__", "demo"},
]
HEAVY = {
    "litellm", "graphviz", "llama_cpp", "numpy", "networkx", "openai", "jinja2", "pydantic", "opentelemetry", "mlflow",
    "ray", "cloudpickle",
}  # fmt: skip


def layer_of(component: str) -> int:
    for i, names in enumerate(LAYERS):
        if component in names:
            return i
    raise AssertionError(f"trace_opt.{component} has no layer: add it to LAYERS in {__file__}")


def component(path: Path) -> str:
    rel = path.relative_to(PACKAGE)
    return rel.parts[0].removesuffix(".py") if len(rel.parts) > 1 or rel.name != "__init__.py" else "__init__"


def imported_components(path: Path, tree: ast.AST) -> list[tuple[str, int]]:
    """(trace_opt component, line) for every import of trace_opt code in the file."""
    pkg_parts = path.relative_to(ROOT).with_suffix("").parts[:-1]
    found = []
    type_only = {
        id(inner)
        for block in ast.walk(tree)
        if isinstance(block, ast.If) and "TYPE_CHECKING" in ast.unparse(block.test)
        for inner in ast.walk(block)
    }
    for node in ast.walk(tree):
        if id(node) in type_only:  # annotations only, never executed
            continue
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = list(pkg_parts[: len(pkg_parts) - node.level + 1])
                mod = base + (node.module.split(".") if node.module else [])
                if len(mod) == 1:  # "from . import x" names submodules
                    for alias in node.names:
                        found.append((alias.name, node.lineno))
                    continue
            else:
                mod = (node.module or "").split(".")
            if mod[0] == "trace_opt" and len(mod) > 1:
                found.append((mod[1], node.lineno))
            if mod[0] == "optimizers":
                found.append(("optimizers", node.lineno))
        elif isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == "trace_opt" and len(parts) > 1:
                    found.append((parts[1], node.lineno))
                if parts[0] == "optimizers":
                    found.append(("optimizers", node.lineno))
    return found


SOURCES = sorted(PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_imports_only_go_down(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    mine = component(path)
    own = layer_of(mine)
    for target, line in imported_components(path, tree):
        assert target != "optimizers", f"{path.name}:{line} imports optimizers; the core never does"
        if target == mine:
            continue
        assert layer_of(target) <= own, (
            f"{path.relative_to(ROOT)}:{line} imports trace_opt.{target}, a higher layer than {mine}"
        )


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_heavy_packages_are_imported_lazily(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in tree.body:  # module level only; imports inside functions are lazy
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            names = [node.module]
        for name in names:
            assert name.split(".")[0] not in HEAVY, f"{path.name}:{node.lineno} imports {name} at module level"


def test_import_trace_opt_loads_no_heavy_module() -> None:
    code = (
        "import sys, trace_opt, trace_opt.llm, trace_opt.constraints\n"
        f"heavy = sorted(m for m in {sorted(HEAVY)!r} if m in sys.modules)\n"
        "print(','.join(heavy))\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "", f"import trace_opt loaded {res.stdout.strip()}"
