"""Response cache: a memory LRU in front of an SQLite file, selected per context like the LLM.

Re-running an experiment -- or resuming one that crashed half way -- then makes no provider
call for anything already answered. Keys come from :meth:`Request.key`, so they never contain
credentials; the stored record is the canonical request (for inspection) and the response.

The disk store is one SQLite file in WAL mode. Each write is a single ``INSERT OR REPLACE``
transaction, so a crash leaves either the old or the new row, never half of one, and several
processes may share a directory.

With nothing configured the process cache is memory-only; set ``TRACE_OPT_CACHE_DIR`` (or
``use_cache(Cache(path))``) to persist, and ``TRACE_OPT_CACHE`` to a mode to change the default.
"""

from __future__ import annotations

import contextlib
import weakref
import json
import logging
import os
import sqlite3
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, get_args

from ..context import using
from ..errors import StoreError
from .request import canonical_json
from .response import LLMResponse

__all__ = ["Cache", "CacheMode", "CacheStats", "get_cache", "use_cache"]

log = logging.getLogger(__name__)

CacheMode = Literal["off", "read", "write", "read-write"]
_MODES: tuple[str, ...] = get_args(CacheMode)
_FILENAME = "llm_cache.sqlite"
_UNSET: Any = object()


@dataclass(frozen=True)
class CacheStats:
    """Counters of one :class:`Cache` since it was created (or ``reset_stats``)."""

    hits: int = 0
    misses: int = 0
    writes: int = 0

    @property
    def hit_rate(self) -> float:
        """Hits over lookups (0.0 before any lookup)."""
        n = self.hits + self.misses
        return self.hits / n if n else 0.0


def _check_mode(mode: str) -> CacheMode:
    if mode not in _MODES:
        raise ValueError(f"Invalid cache mode: {mode!r}\nhelp: use one of {', '.join(_MODES)}")
    return mode  # type: ignore[return-value]


class Cache:
    """LLM response cache. ``path`` is a directory (or a ``.sqlite`` file); ``None`` keeps it in memory.

    Modes: ``read-write`` (default), ``read`` (never store: replay only), ``write`` (never
    read: refresh answers), ``off``.

    >>> from trace_opt.llm import Cache, DummyLLM, use_cache
    >>> llm = DummyLLM(["first", "second"], cacheable=True)
    >>> with use_cache(Cache()) as cache:
    ...     a = llm.complete("q").text
    ...     b = llm.complete("q").text       # same request: answered from the cache
    >>> (a, b, cache.stats.hits)
    ('first', 'first', 1)
    """

    def __init__(
        self, path: str | os.PathLike[str] | None = None, *, mode: CacheMode = "read-write", memory_size: int = 4096
    ) -> None:
        self.mode: CacheMode = _check_mode(mode)
        if memory_size < 0:
            raise ValueError(f"Invalid memory_size: {memory_size!r} (help: entries >= 0; 0 disables the LRU)")
        self.memory_size = memory_size
        self._lru: OrderedDict[str, LLMResponse] = OrderedDict()
        self._lock = threading.Lock()
        self._hits = self._misses = self._writes = 0
        self.path: Path | None = None
        self._db: sqlite3.Connection | None = None
        if path is not None:
            p = Path(path).expanduser()
            if p.suffix not in (".sqlite", ".db", ".sqlite3"):
                p = p / _FILENAME
            self.path = p
            self._db = self._open(p)
            # close the connection when the cache is collected (sqlite warns about leaked ones)
            self._finalizer = weakref.finalize(self, self._db.close)

    @staticmethod
    def _open(path: Path) -> sqlite3.Connection:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None, timeout=30.0)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute(
                "CREATE TABLE IF NOT EXISTS responses ("
                "key TEXT PRIMARY KEY, response TEXT NOT NULL, request TEXT NOT NULL, created REAL NOT NULL)"
            )
        except (OSError, sqlite3.Error) as e:
            raise StoreError(f"cannot open the LLM cache at {path}: {e}", hint="check TRACE_OPT_CACHE_DIR") from e
        return db

    @property
    def readable(self) -> bool:
        """Whether lookups may answer from the cache."""
        return self.mode in ("read", "read-write")

    @property
    def writable(self) -> bool:
        """Whether new responses are stored."""
        return self.mode in ("write", "read-write")

    @property
    def stats(self) -> CacheStats:
        """Hit / miss / write counts."""
        return CacheStats(self._hits, self._misses, self._writes)

    def reset_stats(self) -> None:
        """Zero the counters."""
        with self._lock:
            self._hits = self._misses = self._writes = 0

    def get(self, key: str) -> LLMResponse | None:
        """The cached response for ``key`` (with ``cached=True``), or ``None``. Counts a hit or miss."""
        if not self.readable:
            return None
        with self._lock:
            hit = self._lru.get(key)
            if hit is not None:
                self._lru.move_to_end(key)
                self._hits += 1
                return hit
            if self._db is not None:
                row = self._db.execute("SELECT response FROM responses WHERE key = ?", (key,)).fetchone()
                if row is not None:
                    hit = LLMResponse.from_dict(json.loads(row[0]), cached=True)
                    self._remember(key, hit)
                    self._hits += 1
                    return hit
            self._misses += 1
            return None

    def put(self, key: str, response: LLMResponse, record: dict[str, Any] | None = None) -> None:
        """Store ``response`` under ``key``; ``record`` is the canonical request kept for inspection."""
        if not self.writable:
            return
        cached = LLMResponse.from_dict(response.to_dict(), cached=True)
        with self._lock:
            self._remember(key, cached)
            self._writes += 1
            if self._db is not None:
                try:
                    self._db.execute(
                        "INSERT OR REPLACE INTO responses (key, response, request, created) VALUES (?, ?, ?, ?)",
                        (key, canonical_json(response.to_dict()), canonical_json(record or {}), time.time()),
                    )
                except sqlite3.Error as e:  # a full disk must not lose the answer we already paid for
                    log.warning("could not write to the LLM cache at %s: %s", self.path, e)

    def _remember(self, key: str, response: LLMResponse) -> None:
        if self.memory_size == 0:
            return
        self._lru[key] = response
        self._lru.move_to_end(key)
        while len(self._lru) > self.memory_size:
            self._lru.popitem(last=False)

    def records(self) -> Iterator[dict[str, Any]]:
        """Every stored ``{"key", "request", "response"}`` on disk (for inspection and tests)."""
        if self._db is None:
            return
        with self._lock:
            rows = self._db.execute("SELECT key, request, response FROM responses ORDER BY created").fetchall()
        for key, req, resp in rows:
            yield {"key": key, "request": json.loads(req), "response": json.loads(resp)}

    def __len__(self) -> int:
        with self._lock:
            if self._db is not None:
                return int(self._db.execute("SELECT COUNT(*) FROM responses").fetchone()[0])
            return len(self._lru)

    def clear(self) -> None:
        """Forget every entry (memory and disk)."""
        with self._lock:
            self._lru.clear()
            if self._db is not None:
                self._db.execute("DELETE FROM responses")

    def close(self) -> None:
        """Close the disk store; the memory LRU keeps working."""
        with self._lock:
            if self._db is not None:
                self._finalizer()
                self._db = None

    def __repr__(self) -> str:
        where = str(self.path) if self.path else "memory"
        return f"Cache({where!r}, mode={self.mode!r}, entries={len(self)})"


_ACTIVE: ContextVar[Cache | None] = ContextVar("trace_opt.llm.cache", default=_UNSET)
# The process-wide default is built once, from the environment, on first use.
_default_lock = threading.Lock()
_default: list[Cache] = []


def _default_cache() -> Cache:
    with _default_lock:
        if not _default:
            mode = _check_mode(os.environ.get("TRACE_OPT_CACHE", "read-write"))
            _default.append(Cache(os.environ.get("TRACE_OPT_CACHE_DIR") or None, mode=mode))
        return _default[0]


def get_cache() -> Cache | None:
    """The cache LLM calls in this context use (``None``: caching disabled).

    >>> from trace_opt.llm import get_cache, use_cache
    >>> with use_cache(None):
    ...     get_cache() is None
    True
    """
    active = _ACTIVE.get()
    if active is _UNSET:
        return _default_cache()
    return active


def use_cache(cache: Cache | str | os.PathLike[str] | None) -> contextlib.AbstractContextManager[Cache | None]:
    """Use ``cache`` (a :class:`Cache`, a directory, or ``None`` for no caching) inside the block.

    >>> import tempfile
    >>> from trace_opt.llm import use_cache
    >>> with use_cache(tempfile.mkdtemp()) as cache:
    ...     cache.path.name
    'llm_cache.sqlite'
    """
    if cache is not None and not isinstance(cache, Cache):
        cache = Cache(cache)
    return using(_ACTIVE, cache)
