"""``trace-opt runs | show | graph | replay``: recorded runs from the command line."""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from ..errors import BackendUnavailable
from ..replay import Call, Run
from .output import clip, emit_json, stamp, table, write
from .stores import FoundRun, cache_dir, find_run, open_stores

__all__ = ["cmd_graph", "cmd_replay", "cmd_runs", "cmd_show", "load_program"]

_FORMATS = ("svg", "png", "pdf", "dot", "gv")


def _label(meta: dict[str, Any]) -> str:
    if meta.get("parent"):
        return f"replay of {str(meta['parent'])[:12]} from call {meta.get('point')}"
    return str(meta.get("name") or meta.get("label") or "")


def cmd_runs(args: argparse.Namespace) -> int:
    """List recorded runs, newest first."""
    stores = open_stores(args.store)
    try:
        rows = sorted(((s, r) for s in stores for r in Run.list(s)), key=lambda x: x[1].created, reverse=True)
        rows = rows[: args.limit] if args.limit else rows
        items: list[dict[str, Any]] = [
            {"id": r.id, "created": stamp(r.created), "status": r.status, "calls": len(Run.load(s, r.id)),
             "name": _label(r.meta), "store": s.path, "meta": r.meta} for s, r in rows]  # fmt: skip
        if args.json:
            emit_json(items)
        elif not items:
            write("no recorded runs in " + ", ".join(s.path for s in stores))
        else:
            write(table(["run", "created", "status", "calls", "what", "store"],
                        [[i["id"][:12], i["created"], i["status"], i["calls"], clip(i["name"], 40), i["store"]]
                         for i in items]))  # fmt: skip
        return 0
    finally:
        for s in stores:
            s.close()


def _call_dict(c: Call) -> dict[str, Any]:
    p, k = c.tokens
    return {"index": c.index, "parent": c.parent, "name": c.name, "inputs": c.inputs, "output": c.output,
            "error": c.error, "duration": c.duration, "tokens": {"prompt": p, "completion": k},
            "replayed": c.replayed, "overridden": c.overridden}  # fmt: skip


def _load(args: argparse.Namespace, stack: ExitStack, writable: bool = False) -> tuple[FoundRun, Run]:
    stores = open_stores(args.store, writable=writable)
    for s in stores:
        stack.callback(s.close)
    found = find_run(stores, args.run)
    return found, Run.load(found.store, found.row.id)


def cmd_show(args: argparse.Namespace) -> int:
    """Print a run's call tree with inputs and outputs."""
    with ExitStack() as stack:
        found, run = _load(args, stack)
        if args.json:
            emit_json({"id": run.id, "status": run.status, "created": stamp(found.row.created), "store": found.store.path,
                       "meta": run.meta, "calls": [_call_dict(c) for c in run.calls]})  # fmt: skip
            return 0
        p, k = run.tokens
        write(f"run {run.id}  {run.status}, {len(run)} calls, {p}+{k} tokens  ({found.store.path})")
        if _label(run.meta):
            write(_label(run.meta))
        write(run.summary(timing=args.timing) or "(no calls)")
        if run.meta.get("error"):
            write(f"error: {clip(run.meta['error'], 200)}")
        return 0


def cmd_graph(args: argparse.Namespace) -> int:
    """Write a run's call tree as SVG / PNG / PDF (graphviz) or DOT; DOT to stdout without -o."""
    with ExitStack() as stack:
        _, run = _load(args, stack)
        source = run.dot()  # what render(run) draws; written without the graphviz package
    if args.output is None:
        write(source)
        return 0
    out = Path(args.output)
    fmt = (args.format or out.suffix.lstrip(".") or "svg").lower()
    if fmt not in _FORMATS:
        raise ValueError(f"Invalid format: {fmt!r}\nhelp: use one of {', '.join(_FORMATS)} (or pass --format)")
    if fmt in ("dot", "gv"):
        out.write_text(source + "\n", encoding="utf-8")
    else:
        import graphviz  # type: ignore[import-untyped]

        try:
            data = graphviz.Source(source).pipe(format=fmt)
        except graphviz.ExecutableNotFound:
            raise BackendUnavailable("graphviz's `dot` program is not installed",
                                     hint=f"apt-get install graphviz, or write DOT: -o {out.with_suffix('.dot')}") from None  # fmt: skip
        out.write_bytes(data)
    write(f"wrote {out}")
    return 0


def load_program(spec: str) -> Callable[..., Any]:
    """The callable named by ``FILE.py:NAME`` or ``package.module:NAME`` (what replay re-runs).

    Code is only ever imported from where the user points, never from the store.
    """
    target, sep, attr = spec.rpartition(":")
    if not sep or not target or not attr:
        raise ValueError(f"Invalid --program: {spec!r}\nhelp: write FILE.py:NAME or package.module:NAME")
    if target.endswith(".py") or "/" in target or "\\" in target:
        path = Path(target)
        if not path.is_file():
            raise ValueError(f"Invalid --program: no file {target}\nhelp: give the path of the program's .py file")
        name = f"_trace_opt_program_{path.stem}"
        module_spec = importlib.util.spec_from_file_location(name, path)
        if module_spec is None or module_spec.loader is None:
            raise ValueError(f"Invalid --program: cannot import {target}\nhelp: give a Python source file")
        module = importlib.util.module_from_spec(module_spec)
        sys.modules[name] = module
        module_spec.loader.exec_module(module)
    else:
        module = importlib.import_module(target)
    obj: Any = module
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise ValueError(f"Invalid --program: {target} has no {attr!r}\nhelp: name the bundled function the run called")
        obj = getattr(obj, part)
    if not callable(obj):
        raise ValueError(f"Invalid --program: {spec} is a {type(obj).__name__}, not a function")
    return obj  # type: ignore[no-any-return]


def cmd_replay(args: argparse.Namespace) -> int:
    """Re-run a recorded run: calls before --from come from the record, the rest run afresh."""
    from ..llm import Cache, use, use_cache

    with ExitStack() as stack:
        found, run = _load(args, stack, writable=True)  # the replay is recorded in the same store
        n = len(run)
        point = n if args.start is None else (args.start + n if args.start < 0 else args.start)
        if not 0 <= point <= n:
            raise ValueError(f"Invalid --from: {args.start}\nhelp: the run has {n} calls; pass 0..{n} (or -1 for the last)")
        if args.program is None:
            hint = f"e.g. --program {run.meta['program']}" if run.meta.get("program") else "--program FILE.py:NAME"
            raise ValueError(f"replay needs the program that made run {run.id[:12]} (a store holds no code)\nhelp: {hint}")
        program = load_program(args.program)
        if args.llm:
            stack.enter_context(use(args.llm))
        folder = cache_dir(args.cache_dir)
        if args.cache_dir or folder.exists():
            stack.enter_context(use_cache(Cache(folder)))
        new = run.rewind(n - point).replay(program, strict=args.strict)
        replayed = sum(1 for c in new.calls if c.replayed)
        if args.json:
            emit_json({"id": new.id, "parent": run.id, "from": point, "status": new.status, "replayed": replayed,
                       "ran": len(new) - replayed, "calls": [_call_dict(c) for c in new.calls]})  # fmt: skip
            return 0
        write(f"replayed run {run.id[:12]} from call {point}: new run {new.id}")
        write(f"{replayed} calls came from the record, {len(new) - replayed} ran afresh")
        write(new.summary())
        return 0
