"""``trace-opt cache stats | clear``: the on-disk LLM response cache."""

from __future__ import annotations

import argparse
import json
import sqlite3
from collections import Counter
from pathlib import Path
from typing import Any

from ..errors import StoreError
from ..store.db import read_only_uri
from .output import emit_json, table, write
from .stores import cache_dir

__all__ = ["cmd_cache"]

_FILE = "llm_cache.sqlite"


def _cache_file(given: str | None) -> Path:
    folder = cache_dir(given)
    path = folder if folder.suffix in (".sqlite", ".db", ".sqlite3") else folder / _FILE
    if not path.is_file():
        raise StoreError(f"no LLM cache at {path}",
                         hint="pass --cache-dir (default: $TRACE_OPT_CACHE_DIR, else ./runs/llm-cache)")  # fmt: skip
    return path


def _size(path: Path) -> int:
    return sum(p.stat().st_size for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm")) if p.is_file())


def _corrupt(path: Path, error: BaseException) -> str | None:
    """Why the cache file is unreadable as SQLite, or None if ``error`` is something else."""
    cause = error if isinstance(error, sqlite3.DatabaseError) else error.__cause__
    return str(cause) if isinstance(cause, sqlite3.DatabaseError) else None


def _replace(path: Path) -> None:
    for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm"), Path(f"{path}-journal")):
        p.unlink(missing_ok=True)


def _clear(path: Path, as_json: bool) -> int:
    """Empty the cache; a file SQLite cannot read is removed (a new, empty cache takes its place)."""
    from ..llm import Cache

    try:
        cache = Cache(path)
        try:
            problem = cache.problem  # set when the file could not be used (e.g. not a database)
            n = 0 if problem else len(cache)
            cache.clear()  # replaces a damaged file; refuses (StoreError) anything else it cannot clear
        finally:
            cache.close()
        if problem:
            what = f"the LLM cache at {path} was corrupt ({problem}): replaced it with an empty one"
            result: dict[str, Any] = {"path": str(path), "removed": None, "corrupt": problem}
        else:
            what = f"removed {n} cached responses from {path}"
            result = {"path": str(path), "removed": n}
    except (StoreError, sqlite3.DatabaseError) as e:
        reason = _corrupt(path, e)
        if reason is None:
            raise
        _replace(path)
        Cache(path).close()
        what = f"the LLM cache at {path} was corrupt ({reason}): replaced it with an empty one"
        result = {"path": str(path), "removed": None, "corrupt": reason}
    if as_json:
        emit_json(result)
    else:
        write(what)
    return 0


def cmd_cache(args: argparse.Namespace) -> int:
    """Show what the cache holds, or empty it."""
    path = _cache_file(args.cache_dir)
    if args.action == "clear":
        return _clear(path, args.json)
    try:
        return _stats(path, args.json)
    except sqlite3.DatabaseError as e:
        raise StoreError(f"the LLM cache at {path} is corrupt ({e})",
                         hint="`trace-opt cache clear` replaces it with an empty one") from None


def _stats(path: Path, as_json: bool) -> int:
    """What the cache holds, read through a read-only connection (looking changes nothing)."""
    db = sqlite3.connect(read_only_uri(path), uri=True)
    try:
        rows = db.execute("SELECT request, response FROM responses").fetchall()
    finally:
        db.close()
    models: Counter[str] = Counter()
    tokens = unreadable = 0
    for request, response in rows:
        try:
            llm = json.loads(request).get("llm") or {}
            usage = json.loads(response).get("usage") or {}
            tokens += int(usage.get("prompt_tokens") or 0) + int(usage.get("completion_tokens") or 0)
        except (ValueError, TypeError, AttributeError):  # a damaged row: counted, not fatal
            unreadable += 1
            continue
        models[f"{llm.get('backend', '?')}:{llm.get('model', '?')}"] += 1
    stats: dict[str, Any] = {"path": str(path), "entries": len(rows), "bytes": _size(path), "tokens": tokens,
                             "models": dict(models), "unreadable": unreadable}  # fmt: skip
    if as_json:
        emit_json(stats)
        return 0
    write(f"{path}: {stats['entries']} responses, {stats['bytes'] / 1e6:.2f} MB on disk, "
          f"{tokens:,} tokens a rerun does not pay for" + (f", {unreadable} unreadable" if unreadable else ""))  # fmt: skip
    if models:
        write(table(["backend:model", "responses"], sorted(models.items(), key=lambda kv: -kv[1])))
    return 0
