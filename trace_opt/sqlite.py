"""One SQLite file shared by many processes: open it, and retry what SQLite does not wait for.

The LLM cache and the store each keep their data in one SQLite file that several processes
(``trace.map`` workers, Ray workers, two terminals) may open at the same moment. SQLite's busy
timeout makes most statements wait for a lock, but some fail with ``SQLITE_BUSY`` at once,
because waiting there could deadlock: switching a new file to WAL while another connection
does the same, a transaction that read before it writes after another process committed, a
connection that finds a WAL being recovered. Those are retried here, with exponential backoff
and full jitter (so processes that collided once do not collide again in step), within a time
budget. What still fails is the caller's to handle: the cache degrades to a miss, the store
raises ``StoreBusy``.
"""

from __future__ import annotations

import os
import random
import sqlite3
import time
from collections.abc import Callable
from typing import TypeVar

from .secrets import logger

__all__ = ["connect", "is_busy", "is_corrupt", "retry_busy"]

log = logger(__name__)

T = TypeVar("T")

# Primary result codes (the low byte of an extended code): SQLITE_BUSY, SQLITE_LOCKED;
# SQLITE_CORRUPT, SQLITE_NOTADB.
_BUSY = frozenset({5, 6})
_CORRUPT = frozenset({11, 26})
_FIRST_PAUSE_S = 0.002
_MAX_PAUSE_S = 0.25


def _code(exc: BaseException) -> int | None:
    code = getattr(exc, "sqlite_errorcode", None)  # Python >= 3.11
    return code & 0xFF if isinstance(code, int) else None


def is_busy(exc: BaseException) -> bool:
    """Whether ``exc`` is SQLite's "database is locked": another connection holds a lock.

    >>> import sqlite3
    >>> is_busy(sqlite3.OperationalError("database is locked")), is_busy(ValueError("locked"))
    (True, False)
    """
    if not isinstance(exc, sqlite3.OperationalError):
        return False
    code = _code(exc)
    if code is not None:
        return code in _BUSY
    # Python 3.10 exposes no result code; these are SQLite's fixed messages for BUSY and LOCKED.
    return str(exc).startswith(("database is locked", "database table is locked", "database is busy"))


def is_corrupt(exc: BaseException) -> bool:
    """Whether ``exc`` says the file is not a database or is damaged (retrying cannot help)."""
    if not isinstance(exc, sqlite3.DatabaseError):
        return False
    code = _code(exc)
    if code is not None:
        return code in _CORRUPT
    return str(exc).startswith(("file is not a database", "database disk image is malformed"))


def retry_busy(fn: Callable[[], T], budget: float) -> T:
    """``fn()``, called again after a short random pause while it fails with "database is
    locked", for up to ``budget`` seconds; then the last error is raised.

    >>> retry_busy(lambda: 42, budget=1.0)
    42
    """
    try:  # the common case, without the bookkeeping below
        return fn()
    except sqlite3.OperationalError as exc:
        if not is_busy(exc):
            raise
    deadline = time.monotonic() + budget
    pause = _FIRST_PAUSE_S
    while True:
        wait = random.uniform(pause / 2, pause)
        if time.monotonic() + wait > deadline:
            return fn()  # the last try: its error, if any, is the caller's
        time.sleep(wait)
        pause = min(pause * 2, _MAX_PAUSE_S)
        try:
            return fn()
        except sqlite3.OperationalError as exc:
            if not is_busy(exc):
                raise


def connect(
    path: str | os.PathLike[str],
    *,
    busy_timeout: float,
    budget: float,
    wal: bool = True,
    check: Callable[[sqlite3.Connection], None] | None = None,
) -> sqlite3.Connection:
    """A connection to ``path`` for use from any thread (under the caller's lock), in WAL mode.

    The busy timeout is in force before the first statement (``sqlite3.connect`` installs it as
    the file opens). Switching to WAL needs a moment alone with the file, so when several
    processes create it together all but one are told "locked" at once: that is retried.
    ``check(conn)`` runs first, before anything is written (switching to WAL rewrites the
    file's header): a caller refuses a file of another program there, leaving it untouched.
    Raises ``sqlite3.Error`` (or ``OSError``) for the caller to turn into its own policy.

    >>> conn = connect(":memory:", busy_timeout=1.0, budget=1.0, wal=False)
    >>> conn.execute("SELECT 1").fetchone()
    (1,)
    """
    conn = sqlite3.connect(os.fspath(path), timeout=busy_timeout, isolation_level=None, check_same_thread=False)
    try:
        if check is not None:
            check(conn)
        if wal:
            mode = retry_busy(lambda: conn.execute("PRAGMA journal_mode=WAL").fetchone()[0], budget)
            if str(mode).lower() != "wal":  # e.g. a filesystem without shared memory
                log.debug("SQLite file %s stays in journal mode %s", path, mode)
            # durable against a killed process; only a power cut can lose the last transactions
            conn.execute("PRAGMA synchronous=NORMAL")
    except BaseException:
        conn.close()
        raise
    return conn
