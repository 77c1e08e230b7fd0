"""Response cache: a memory LRU in front of an SQLite file, selected per context like the LLM.

Re-running an experiment -- or resuming one that crashed half way -- then makes no provider
call for anything already answered. Keys come from :meth:`Request.key`, so they never contain
credentials; the stored record is the canonical request (for inspection) and the response.

The disk store is one SQLite file in WAL mode. Each write is a single ``INSERT OR REPLACE``
transaction, so a crash leaves either the old or the new row, never half of one, and several
processes may share a directory -- and create it together (``trace_opt.sqlite`` retries the
locks SQLite does not wait for).

A cache only saves work, so it never fails the call it serves: a file that cannot be opened
(unwritable directory, not a database), a row that cannot be decoded, or a lock held past the
retry budget makes that lookup a miss or that write skipped, logged once per cache at WARNING.

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
from ..sqlite import connect, is_corrupt, retry_busy
from .request import canonical_json
from .response import LLMResponse

__all__ = ["Cache", "CacheMode", "CacheStats", "get_cache", "use_cache"]

log = logging.getLogger(__name__)

CacheMode = Literal["off", "read", "write", "read-write"]
_MODES: tuple[str, ...] = get_args(CacheMode)
_FILENAME = "llm_cache.sqlite"
_UNSET: Any = object()
# How long one open, lookup or write may wait on other processes' locks before the cache gives
# up on it (the file unused, a miss, a skipped write). A writer holds the lock ~1 ms.
_BUSY_TIMEOUT_S = 10.0
_RETRY_BUDGET_S = 10.0
_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS responses ("
    "key TEXT PRIMARY KEY, response TEXT NOT NULL, request TEXT NOT NULL, created REAL NOT NULL)"
)
# Forks of this process so far (counted in the child): a cache opened before a fork reopens
# its file in the child, cheaper to check on every lookup than os.getpid().
_FORKS = [0]
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=lambda: _FORKS.__setitem__(0, _FORKS[0] + 1))
_INSERT = "INSERT OR REPLACE INTO responses (key, response, request, created) VALUES (?, ?, ?, ?)"


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
    read: refresh answers), ``off``. If the file cannot be used, the cache keeps working from
    memory, logs one WARNING and says why in ``problem``.

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
        self._db: sqlite3.Connection | None = None
        self._finalizer: weakref.finalize | None = None
        self._forks = _FORKS[0]
        self._inherited: list[sqlite3.Connection] = []
        self._warned: set[str] = set()
        self._open_error: BaseException | None = None
        self.path: Path | None = None
        if path is not None:
            p = Path(path).expanduser()
            if p.suffix not in (".sqlite", ".db", ".sqlite3"):
                p = p / _FILENAME
            self.path = p
            self._attach()

    @property
    def problem(self) -> str | None:
        """Why the file is not in use: ``None`` when it is (or for a memory-only cache).

        >>> Cache().problem is None
        True
        """
        return None if self._open_error is None else f"cannot open {self.path}: {self._open_error}"

    def _attach(self) -> None:
        """Open the file; if that fails, keep working from memory and say why, once."""
        assert self.path is not None
        self._forks = _FORKS[0]
        try:
            self._db = _open(self.path)
        except (OSError, sqlite3.Error) as e:
            self._open_error = e
            self._warn("open", f"cannot open it ({e}); answers are cached in memory only")
            return
        self._open_error = None
        # close the connection when the cache is collected (sqlite warns about leaked ones)
        self._finalizer = weakref.finalize(self, self._db.close)

    def _detach(self) -> None:
        if self._finalizer is not None:
            self._finalizer()
        self._db = self._finalizer = None

    def _disk(self) -> sqlite3.Connection | None:
        """The open connection; a forked child opens its own (it must not use its parent's)."""
        if self._db is not None and self._forks != _FORKS[0]:
            if self._finalizer is not None:
                self._finalizer.detach()
            # The parent still uses that handle: keep it referenced, never closed from here.
            self._inherited.append(self._db)
            self._db = self._finalizer = None
            self._attach()
        return self._db

    def _warn(self, kind: str, message: str) -> None:
        """WARNING the first time this cache has a problem of this kind, DEBUG after that."""
        level = logging.DEBUG if kind in self._warned else logging.WARNING
        self._warned.add(kind)
        log.log(level, "LLM cache at %s: %s", self.path, message)

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
        """The cached response for ``key`` (with ``cached=True``), or ``None``. Counts a hit or miss.

        A row that cannot be read or decoded is a miss; the call then stores a fresh answer over it.
        """
        if not self.readable:
            return None
        with self._lock:
            hit = self._lru.get(key)
            if hit is not None:
                self._lru.move_to_end(key)
                self._hits += 1
                return hit
            db = self._disk()
            if db is not None:
                hit = self._read(db, key)
                if hit is not None:
                    self._remember(key, hit)
                    self._hits += 1
                    return hit
            self._misses += 1
            return None

    def _read(self, db: sqlite3.Connection, key: str) -> LLMResponse | None:
        try:
            row = retry_busy(
                lambda: db.execute("SELECT response FROM responses WHERE key = ?", (key,)).fetchone(), _RETRY_BUDGET_S
            )
        except sqlite3.Error as e:
            self._warn("read", f"a lookup failed and counts as a miss ({e})")
            return None
        if row is None:
            return None
        try:
            return LLMResponse.from_dict(json.loads(row[0]), cached=True)
        except (ValueError, TypeError, KeyError, AttributeError) as e:  # a damaged or foreign row
            self._warn("decode", f"entry {key[:12]} is unreadable and counts as a miss ({type(e).__name__}: {e})")
            return None

    def put(self, key: str, response: LLMResponse, record: dict[str, Any] | None = None) -> None:
        """Store ``response`` under ``key``; ``record`` is the canonical request kept for inspection.

        A write the file refuses (locked past the retry budget, disk full, read-only) is skipped:
        the answer stays in memory, and the call that paid for it returns it all the same.
        """
        if not self.writable:
            return
        cached = LLMResponse.from_dict(response.to_dict(), cached=True)
        with self._lock:
            self._remember(key, cached)
            self._writes += 1
            db = self._disk()
            if db is not None:
                row = (key, canonical_json(response.to_dict()), canonical_json(record or {}), time.time())
                try:
                    retry_busy(lambda: db.execute(_INSERT, row), _RETRY_BUDGET_S)
                except sqlite3.Error as e:
                    self._warn("write", f"a write was skipped, the answer is kept in memory only ({e})")

    def _remember(self, key: str, response: LLMResponse) -> None:
        if self.memory_size == 0:
            return
        self._lru[key] = response
        self._lru.move_to_end(key)
        while len(self._lru) > self.memory_size:
            self._lru.popitem(last=False)

    def _query(self, sql: str) -> list[Any]:
        """Rows of an inspection query; unlike a lookup, a failure here is the caller's to see."""
        db = self._disk()
        if db is None:
            return []
        try:
            return retry_busy(lambda: db.execute(sql).fetchall(), _RETRY_BUDGET_S)
        except sqlite3.Error as e:
            raise StoreError(f"cannot read the LLM cache at {self.path}: {e}", hint=_fix_hint(e)) from None

    def records(self) -> Iterator[dict[str, Any]]:
        """Every stored ``{"key", "request", "response"}`` on disk (for inspection and tests)."""
        with self._lock:
            rows = self._query("SELECT key, request, response FROM responses ORDER BY created")
        for key, req, resp in rows:
            yield {"key": key, "request": json.loads(req), "response": json.loads(resp)}

    def __len__(self) -> int:
        with self._lock:
            if self._disk() is not None:
                return int(self._query("SELECT COUNT(*) FROM responses")[0][0])
            return len(self._lru)

    def clear(self) -> None:
        """Forget every entry (memory and disk). A file that is not a database (or is damaged)
        is replaced by an empty cache.

        >>> cache = Cache()
        >>> cache.clear(); len(cache)
        0
        """
        with self._lock:
            self._lru.clear()
            if self.path is None:
                return
            db = self._disk()
            if db is None:
                self._attach()  # perhaps it was only locked, or the directory is writable now
                db = self._db
            error = self._open_error
            if db is not None:
                try:
                    retry_busy(lambda: db.execute("DELETE FROM responses"), _RETRY_BUDGET_S)
                    return
                except sqlite3.Error as e:
                    error = e
            if error is None or not is_corrupt(error):
                raise StoreError(f"cannot clear the LLM cache at {self.path}: {error}", hint=_fix_hint(error))
            self._detach()
            for suffix in ("", "-wal", "-shm"):
                Path(f"{self.path}{suffix}").unlink(missing_ok=True)
            log.warning("LLM cache at %s was damaged (%s); replaced it with an empty one", self.path, error)
            self._attach()

    def close(self) -> None:
        """Close the disk store; the memory LRU keeps working."""
        with self._lock:
            self._detach()

    def __repr__(self) -> str:
        where = str(self.path) if self.path else "memory"
        try:
            entries = str(len(self))
        except StoreError:
            entries = "?"
        return f"Cache({where!r}, mode={self.mode!r}, entries={entries})"


def _refuse_foreign(db: sqlite3.Connection) -> None:
    """Leave another program's SQLite file untouched: not even the switch to WAL is written."""
    tables = {r[0] for r in retry_busy(lambda: db.execute("SELECT name FROM sqlite_master WHERE type='table'").fetchall(),
                                        _RETRY_BUDGET_S)}  # fmt: skip
    if tables - {"responses"}:
        raise sqlite3.DatabaseError(f"an SQLite file of another program (tables {sorted(tables)[:5]}); left untouched")


def _open(path: Path) -> sqlite3.Connection:
    path.parent.mkdir(parents=True, exist_ok=True)
    db = connect(path, busy_timeout=_BUSY_TIMEOUT_S, budget=_RETRY_BUDGET_S, check=_refuse_foreign)
    try:
        # Create the table only when missing: opening an existing cache takes no write lock,
        # and when several processes create it at once, IF NOT EXISTS makes the losers no-ops.
        exists = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'responses'"
        if retry_busy(lambda: db.execute(exists).fetchone(), _RETRY_BUDGET_S) is None:
            retry_busy(lambda: db.execute(_SCHEMA), _RETRY_BUDGET_S)
    except BaseException:
        db.close()
        raise
    return db


def _fix_hint(error: BaseException | None) -> str:
    if error is not None and is_corrupt(error):
        return "the file is damaged: `trace-opt cache clear` (or Cache.clear()) replaces it"
    return "another process may hold it locked, or the directory is not writable: check TRACE_OPT_CACHE_DIR"


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
