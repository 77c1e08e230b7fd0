"""``trace-opt cache stats | clear``: the on-disk LLM response cache."""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path
from typing import Any

from ..errors import StoreError
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


def cmd_cache(args: argparse.Namespace) -> int:
    """Show what the cache holds, or empty it."""
    from ..llm import Cache

    path = _cache_file(args.cache_dir)
    cache = Cache(path)
    try:
        if args.action == "clear":
            n = len(cache)
            cache.clear()
            if args.json:
                emit_json({"path": str(path), "removed": n})
            else:
                write(f"removed {n} cached responses from {path}")
            return 0
        models: Counter[str] = Counter()
        tokens = 0
        for rec in cache.records():
            llm = rec["request"].get("llm") or {}
            models[f"{llm.get('backend', '?')}:{llm.get('model', '?')}"] += 1
            usage = rec["response"].get("usage") or {}
            tokens += int(usage.get("prompt_tokens") or 0) + int(usage.get("completion_tokens") or 0)
        stats: dict[str, Any] = {"path": str(path), "entries": len(cache), "bytes": _size(path), "tokens": tokens,
                                 "models": dict(models)}  # fmt: skip
        if args.json:
            emit_json(stats)
        else:
            write(f"{path}: {stats['entries']} responses, {stats['bytes'] / 1e6:.2f} MB on disk, "
                  f"{tokens:,} tokens a rerun does not pay for")  # fmt: skip
            if models:
                write(table(["backend:model", "responses"], sorted(models.items(), key=lambda kv: -kv[1])))
        return 0
    finally:
        cache.close()
