"""Where the CLI finds stores, runs and the LLM cache.

``--store`` names a store file or a folder: a folder means every ``store.db`` in it and one
level below (``./runs/<run-id>/store.db``, as the demo writes them), so ``trace-opt runs``
lists every run of every training without being told which. A run is named by a prefix of
its id (4 characters or more) or ``latest``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ..errors import StoreError
from ..replay import Run
from ..store import Store
from ..store.runs import RunRow

__all__ = ["DEFAULT_CACHE", "DEFAULT_STORE", "FoundRun", "cache_dir", "find_run", "open_stores", "store_paths"]

DEFAULT_STORE = "runs"
DEFAULT_CACHE = os.path.join("runs", "llm-cache")


def store_paths(where: str | None) -> list[Path]:
    """The store files ``where`` names (default: ``$TRACE_OPT_STORE`` or ``./runs``), newest first."""
    spec = where or os.environ.get("TRACE_OPT_STORE") or DEFAULT_STORE
    path = Path(spec).expanduser()
    if path.is_file():
        return [path]
    if not path.exists():
        raise StoreError(f"no store at {spec}", hint="run `python examples/demo.py` first, or pass --store PATH")
    found = [p for p in (path / "store.db", *sorted(path.glob("*/store.db"))) if p.is_file()]
    if not found:
        raise StoreError(f"no store.db in {spec} or its subfolders", hint="pass --store path/to/store.db")
    return sorted(found, key=lambda p: p.stat().st_mtime, reverse=True)


def open_stores(where: str | None, *, writable: bool = False) -> list[Store]:
    """Open every store ``where`` names (the caller closes them); read-only unless ``writable``,
    so looking never changes a file (nor turns a stray file into a store)."""
    return [Store(p, read_only=not writable) for p in store_paths(where)]


@dataclass(frozen=True)
class FoundRun:
    """A run header and the store it is in."""

    store: Store
    row: RunRow


def _all_runs(stores: list[Store]) -> list[FoundRun]:
    found = [FoundRun(s, r) for s in stores for r in Run.list(s)]
    return sorted(found, key=lambda f: f.row.created, reverse=True)


def find_run(stores: list[Store], name: str) -> FoundRun:
    """The run named by an id prefix (>= 4 characters) or ``latest``, across ``stores``."""
    runs = _all_runs(stores)
    if not runs:
        raise StoreError("no recorded runs in " + ", ".join(s.path for s in stores),
                         hint="record one with trace_opt.record(store), or run examples/demo.py")  # fmt: skip
    if name == "latest":
        return runs[0]
    if len(name) < 4:
        raise ValueError(f"Invalid run: {name!r}\nhelp: give at least 4 characters of its id, or 'latest'")
    matches = [f for f in runs if f.row.id.startswith(name.lower())]
    if not matches:
        raise StoreError(f"no run starting with {name!r}", hint="`trace-opt runs` lists the runs and their ids")
    if len({f.row.id for f in matches}) > 1:
        raise StoreError(f"{len(matches)} runs start with {name!r}", hint="give more characters of the id")
    return matches[0]


def cache_dir(given: str | None) -> Path:
    """The LLM cache folder: ``--cache-dir``, else ``$TRACE_OPT_CACHE_DIR``, else ``./runs/llm-cache``."""
    return Path(given or os.environ.get("TRACE_OPT_CACHE_DIR") or DEFAULT_CACHE).expanduser()
