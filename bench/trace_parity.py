"""Run Microsoft Trace's own unit-test scripts against trace_opt, with only the imports changed.

    git clone https://github.com/microsoft/Trace /tmp/Trace
    python bench/trace_parity.py /tmp/Trace            # every tests/unit_tests/test_*.py
    python bench/trace_parity.py /tmp/Trace test_bool.py test_copy.py

This is how the README's porting claim ("a Trace program ports by changing its imports") is
checked. Nothing of Trace is copied into this repository: the scripts are read from the
checkout given on the command line, their ``import`` statements are rewritten with the
mapping table below (the same table as the README's "Porting from Trace"), the rewritten
copies go to a temporary directory, and each runs as a plain script (``python test_x.py``, as
Trace's own ``tests/unit_tests/run.py`` does) with this repository on ``PYTHONPATH``.

Imports are rewritten through the AST, one statement at a time, keeping every line where it
was: some scripts assert on line numbers. An ``opto`` import the table does not map (Trace
internals such as ``opto.trace.utils``) is left as is, so the script fails on it and the
table names it. No script reaches the network: API-key variables are removed from its
environment and it runs in an empty directory, so the LLM-only parts of the scripts are
skipped exactly as they are in Trace without credentials.

The result (pass/fail per script, the error of each failure, the unmapped imports, and the
known reason for each failure in ``WHY``) is printed and saved to
``bench/results/trace_parity.json``.
"""

from __future__ import annotations

import argparse
import ast
import os
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]

# Trace module -> trace_opt module. The Trace names are the public surface its docs and
# examples import from; everything else under ``opto`` is internal and left unmapped.
MODULES = {
    "opto.trace": "trace_opt",
    "opto.trace.nodes": "trace_opt.nodes",
    "opto.trace.bundle": "trace_opt.bundle",
    "opto.trace.modules": "trace_opt.modules",
    "opto.trace.operators": "trace_opt.operators",
    "opto.trace.errors": "trace_opt.errors",
    "opto.trace.propagators": "trace_opt.propagators",
    "opto.trace.containers": "trace_opt.containers",
    "opto.trace.broadcast": "trace_opt.broadcast",
    "opto.trace.utils": "trace_opt.utils",
    "opto.optimizers": "optimizers",
    "opto.utils.llm": "trace_opt.llm",
}

# A script "uses only Trace's public API" when everything it imports from Trace is one of
# these: the top-level ``opto.trace`` (``from opto import trace``), the optimizers and ``LLM``.
TOP_LEVEL = {"opto.trace", "opto.optimizers", "opto.utils.llm"}

# Why a script fails on trace_opt: each a deliberate difference or a missing internal, named in
# the README's "Porting from Trace". The runner prints the actual error next to it, so a
# reason that no longer holds shows.
WHY: dict[str, str] = {
    "test_backward.py": (
        "imports node_to_function_feedback, an internal of Trace's OptoPrime, and reads "
        "node.feedback as Trace's {child: [feedback]} dict; trace_opt's feedback is a list"
    ),
    "test_bundle.py": (
        "reads info['external_dependencies'] and imports TraceMissingInputsError: Trace logs every "
        "node a function reads (a global read log); trace_opt records only the arguments"
    ),
    "test_containers.py": (
        "pickles nodes inside Trace's Map/Seq containers; trace_opt nodes refuse pickle "
        "(JSON only) and it has no Map/Seq"
    ),
    "test_dependencies.py": (
        "uses sum_feedback and the expandable TraceGraph of Trace's propagator internals"
    ),
    "test_llm.py": (
        "imports print_color, a terminal helper of Trace's optimizer internals (the rest needs an API key)"
    ),
}


def map_module(name: str) -> str | None:
    """The trace_opt module for a Trace module name, or None when it has no counterpart."""
    if name in MODULES:
        return MODULES[name]
    if name.startswith("opto.optimizers."):
        return "optimizers." + name.removeprefix("opto.optimizers.")
    return None


def _rewrite_stmt(stmt: ast.Import | ast.ImportFrom, unmapped: list[str]) -> ast.stmt | None:
    """The rewritten statement, or None if it needs no change."""
    if isinstance(stmt, ast.ImportFrom):
        if stmt.level or not stmt.module or not (stmt.module == "opto" or stmt.module.startswith("opto.")):
            return None
        if stmt.module == "opto":  # from opto import trace / optimizers
            aliases = []
            for a in stmt.names:
                target = map_module(f"opto.{a.name}")
                if target is None:
                    unmapped.append(f"opto.{a.name}")
                    return None
                aliases.append(ast.alias(target, a.asname or a.name))
            return ast.Import(names=aliases)
        target = map_module(stmt.module)
        if target is None:
            unmapped.append(stmt.module)
            return None
        return ast.ImportFrom(module=target, names=stmt.names, level=0)
    aliases = []
    changed = False
    for a in stmt.names:
        if a.name == "opto" or a.name.startswith("opto."):
            target = map_module(a.name)
            if target is None:
                unmapped.append(a.name)
                return None
            if a.asname is None:  # `import opto.trace` binds `opto`; keep that name working
                unmapped.append(a.name)
                return None
            aliases.append(ast.alias(target, a.asname))
            changed = True
        else:
            aliases.append(a)
    return ast.Import(names=aliases) if changed else None


def _parse(source: str) -> ast.Module:
    with warnings.catch_warnings():  # Trace's scripts have invalid escapes ("\\ ") Python warns about
        warnings.simplefilter("ignore")
        return ast.parse(source)


def trace_imports(source: str) -> set[str]:
    """The Trace modules ``source`` imports (``from opto import trace`` is ``opto.trace``)."""
    found = set()
    for stmt in ast.walk(_parse(source)):
        if isinstance(stmt, ast.ImportFrom) and not stmt.level and stmt.module:
            if stmt.module == "opto":
                found.update(f"opto.{a.name}" for a in stmt.names)
            elif stmt.module.startswith("opto."):
                found.add(stmt.module)
        elif isinstance(stmt, ast.Import):
            found.update(a.name for a in stmt.names if a.name == "opto" or a.name.startswith("opto."))
    return found


def rewrite_imports(source: str) -> tuple[str, list[str]]:
    """``source`` with its Trace imports replaced by trace_opt ones, line numbers unchanged,
    and the ``opto`` modules it imports that have no trace_opt counterpart."""
    tree = _parse(source)
    lines = source.splitlines(keepends=True)
    unmapped: list[str] = []
    edits = []
    for stmt in ast.walk(tree):
        if isinstance(stmt, (ast.Import, ast.ImportFrom)):
            new = _rewrite_stmt(stmt, unmapped)
            if new is not None:
                edits.append((stmt, ast.unparse(new)))
    # Bottom-up so earlier positions stay valid. An import statement owns its lines whole in
    # these scripts unless it shares a line after `;` — then only its columns are replaced.
    for stmt, text in sorted(edits, key=lambda e: (e[0].lineno, e[0].col_offset), reverse=True):
        first, last = stmt.lineno - 1, (stmt.end_lineno or stmt.lineno) - 1
        head = lines[first][: stmt.col_offset]
        tail = lines[last][stmt.end_col_offset :]
        pad = "\n" * (last - first)  # keep the statement's line count
        lines[first : last + 1] = [head + text + tail.rstrip("\n") + pad + ("\n" if tail.endswith("\n") else "")]
    return "".join(lines), sorted(set(unmapped))


def _clean_env() -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.endswith("_API_KEY") and k not in ("TRACE_LITELLM_MODEL", "OAI_CONFIG_LIST")
    }
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
    env["MPLBACKEND"] = "Agg"
    return env


def run_script(path: Path, workdir: Path, timeout: float) -> dict[str, Any]:
    """Rewrite and run one script; its outcome as a row of the result table."""
    original = path.read_text(encoding="utf-8")
    text, unmapped = rewrite_imports(original)
    target = workdir / path.name
    target.write_text(text, encoding="utf-8")
    started = time.perf_counter()
    try:
        proc = subprocess.run(
            [sys.executable, target.name], cwd=workdir, env=_clean_env(),
            capture_output=True, text=True, timeout=timeout,
        )  # fmt: skip
        code, err = proc.returncode, proc.stderr
    except subprocess.TimeoutExpired:
        code, err = -1, f"timed out after {timeout:.0f} s"
    seconds = time.perf_counter() - started
    error = ""
    if code != 0:
        tail = [line for line in err.strip().splitlines() if line.strip()]
        error = tail[-1].strip() if tail else f"exit status {code}"
    return {
        "script": path.name,
        "public": trace_imports(original) <= TOP_LEVEL,
        "passed": code == 0,
        "error": error[:300],
        "unmapped_imports": unmapped,
        "why": WHY.get(path.name, ""),
        "seconds": round(seconds, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("trace", type=Path, help="a checkout of microsoft/Trace")
    parser.add_argument("scripts", nargs="*", help="script names (default: every tests/unit_tests/test_*.py)")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds per script")
    parser.add_argument("--no-save", action="store_true", help="print only (for a partial run)")
    args = parser.parse_intermixed_args()

    unit = args.trace / "tests" / "unit_tests"
    if not unit.is_dir():
        parser.error(f"{unit} does not exist: pass the root of a microsoft/Trace checkout")
    paths = sorted(unit.glob("test_*.py"))
    if args.scripts:
        paths = [p for p in paths if p.name in set(args.scripts)]
    rows = []
    with tempfile.TemporaryDirectory(prefix="trace_parity_") as tmp:
        for path in paths:
            workdir = Path(tmp) / path.stem  # one empty directory each: scripts write files
            workdir.mkdir()
            row = run_script(path, workdir, args.timeout)
            rows.append(row)
            mark = "pass" if row["passed"] else "FAIL"
            print(f"{mark}  {'public  ' if row['public'] else 'internal'}  {row['script']:<28} {row['error']}")
            if row["unmapped_imports"]:
                print(f"      unmapped: {', '.join(row['unmapped_imports'])}")
            if not row["passed"] and row["why"]:
                print(f"      why: {row['why']}")

    public = [r for r in rows if r["public"]]
    summary = {
        "scripts": len(rows),
        "passed": sum(r["passed"] for r in rows),
        "public_scripts": len(public),
        "public_passed": sum(r["passed"] for r in public),
    }
    print(
        f"\n{summary['passed']} of {summary['scripts']} scripts pass; "
        f"{summary['public_passed']} of {summary['public_scripts']} that import only opto.trace, "
        "opto.optimizers and opto.utils.llm"
    )
    if not args.no_save and not args.scripts:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from _results import save

        commit = subprocess.run(
            ["git", "-C", str(args.trace), "rev-parse", "HEAD"], capture_output=True, text=True
        ).stdout.strip()
        path = save("trace_parity", {**summary, "trace_commit": commit, "rows": rows})
        print(f"saved {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
