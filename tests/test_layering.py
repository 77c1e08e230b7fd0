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
    {"errors", "secrets", "stats", "visible"},
    {"context", "sqlite", "awaiting", "drawing"},
    {"nodes", "containers"},
    {"graph", "propagation", "propagators", "constraints", "sandbox", "broadcast", "funinfo", "arguments"},
    {"bundle", "operators", "node_methods", "modules", "utils"},
    {"llm", "store", "replay", "execution", "distributed", "compose", "template_sandbox", "functions", "session"},
    {"visualize", "report", "telemetry", "integrations"},
    {"__init__", "cli"},
]
# trace_opt.nodes is a package split by job; its own modules import one way too (each only its
# own row or a lower one), checked by test_the_nodes_package_imports_one_way.
NODES_LAYERS: list[set[str]] = [
    {"frames", "links", "naming", "opinfo", "registry", "text", "walk"},
    {"kinds"},
    {"make"},
    {"__init__"},
]
HEAVY = {
    "litellm", "graphviz", "llama_cpp", "numpy", "networkx", "openai", "jinja2", "pydantic", "opentelemetry", "mlflow",
    "jsonschema", "referencing", "ray", "cloudpickle", "markupsafe", "tqdm",
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


def test_every_listed_component_exists() -> None:
    """LAYERS names only real modules or packages (a stale name would hide a misplaced one)."""
    missing = sorted(c for layer in LAYERS for c in layer
                     if c != "__init__" and not (PACKAGE / f"{c}.py").is_file() and not (PACKAGE / c).is_dir())  # fmt: skip
    assert not missing, f"LAYERS lists components that do not exist: {missing}"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _module_graph() -> dict[str, set[str]]:
    """Module -> the trace_opt / optimizers modules it imports, anywhere in the file: also inside
    functions and under TYPE_CHECKING (a cycle hidden there is still a cycle)."""
    paths = {_module_name(p): p for pkg in ("trace_opt", "optimizers") for p in (ROOT / pkg).rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in paths.items():
        package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
        deps: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                base = package[: len(package) - node.level + 1] if node.level else []
                target = ".".join(base + (node.module.split(".") if node.module else []))
                for alias in node.names:
                    sub = f"{target}.{alias.name}"
                    deps.add(sub if sub in paths else target)
            elif isinstance(node, ast.Import):
                deps |= {a.name for a in node.names}
        graph[name] = {d for d in deps if d in paths and d != name}
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


# None left: a new cycle fails the test below; move the shared piece down a module instead.
KNOWN_CYCLES: list[list[str]] = []


def test_no_import_cycles_between_modules() -> None:
    """Within a layer the layer rule allows any import; modules must still not import each other."""
    cycles = [c for c in _cycles(_module_graph()) if c not in KNOWN_CYCLES]
    assert not cycles, f"import cycles: {cycles} (move the shared piece down a module)"


def test_the_cycle_check_finds_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_errors_is_the_bottom_module() -> None:
    """Every layer raises trace_opt.errors, so it may import no trace_opt code at all, not even
    for annotations (ExecutionError names its node through a protocol)."""
    assert _module_graph()["trace_opt.errors"] == set()


def test_the_nodes_package_imports_one_way() -> None:
    rows = {f"trace_opt.nodes.{m}" if m != "__init__" else "trace_opt.nodes": i
            for i, row in enumerate(NODES_LAYERS) for m in row}  # fmt: skip
    graph = _module_graph()
    actual = {name for name in graph if name == "trace_opt.nodes" or name.startswith("trace_opt.nodes.")}
    assert actual == set(rows), f"NODES_LAYERS lists {sorted(rows)}, the package has {sorted(actual)}"
    for name, row in rows.items():
        for dep in graph[name] & set(rows):
            assert rows[dep] <= row, f"{name} imports {dep}, a higher row of NODES_LAYERS"
