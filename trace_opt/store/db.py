"""The SQLite file under a Store: schema, connection and transactions.

One file, in WAL mode: readers never block the writer, and each write is one ``BEGIN
IMMEDIATE`` transaction, so two processes writing at once wait for each other (up to the busy
timeout, and ``trace_opt.sqlite`` retries the locks SQLite reports without waiting) instead of
failing, and a process killed mid-write leaves the last committed state. Several processes may
create the file at the same moment: the schema is written once, in a transaction, by whichever
gets there first. If the file stays locked past the budget, the operation raises ``StoreBusy``
having changed nothing; a write that returned was committed.
``synchronous=NORMAL`` is durable against a crashed or killed process; only a power cut can
lose the last few transactions (SQLite's documented WAL trade-off, worth the ~10x speed).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from ..errors import StoreBusy, StoreError
from ..secrets import logger
from ..sqlite import connect, is_busy, is_corrupt, retry_busy

__all__ = ["Database", "read_only_uri"]

log = logger(__name__)

SCHEMA_VERSION = 1
BUSY_TIMEOUT_S = 60.0

# Rowid tables for objects and calls: their rows are often larger than the ~200 bytes under
# which WITHOUT ROWID pays off (with it, 12 MB of prompts took a 47 MB file).
_SCHEMA = """
CREATE TABLE IF NOT EXISTS objects (
    digest TEXT PRIMARY KEY,
    body BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS refs (
    name TEXT PRIMARY KEY,
    digest TEXT NOT NULL,
    updated REAL NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY,
    created REAL NOT NULL,
    status TEXT NOT NULL,
    meta TEXT NOT NULL,
    snapshot TEXT
);
CREATE TABLE IF NOT EXISTS calls (
    run TEXT NOT NULL,
    idx INTEGER NOT NULL,
    parent INTEGER,
    end_idx INTEGER NOT NULL,
    name TEXT NOT NULL,
    inputs TEXT NOT NULL,
    output TEXT,
    error TEXT,
    info TEXT,
    started REAL NOT NULL,
    duration REAL NOT NULL,
    flags INTEGER NOT NULL,
    PRIMARY KEY (run, idx)
);
"""


def read_only_uri(path: str | os.PathLike[str]) -> str:
    """An SQLite URI that opens ``path`` without writing to it or beside it.

    No ``-wal`` file means no connection is writing: then the file is opened immutable, which
    also creates no ``-wal``/``-shm`` side files; a file in use is read with WAL locking as usual."""
    live = Path(f"{os.fspath(path)}-wal").exists()
    return f"{Path(path).resolve().as_uri()}?mode=ro" + ("" if live else "&immutable=1")


class Database:
    """A thread-safe connection to one store file (``":memory:"`` for a private in-memory one)."""

    def __init__(self, path: str | os.PathLike[str], *, read_only: bool = False) -> None:
        self.path = str(path)
        self.memory = self.path == ":memory:" or self.path.startswith("file::memory:")
        # read_only: SQLite's mode=ro -- no schema, no journal-mode switch, no write reaches the file.
        self.read_only = read_only and not self.memory
        self._lock = threading.RLock()
        self._inherited: list[sqlite3.Connection] = []
        self._pid = os.getpid()
        self._conn: sqlite3.Connection | None = self._connect()

    def _connect(self) -> sqlite3.Connection:
        if not self.memory:
            parent = Path(self.path).parent
            if not parent.is_dir():
                raise StoreError(f"cannot open store {self.path}: no directory {parent}", hint="create it first")
        conn: sqlite3.Connection | None = None
        try:
            # a file of another program is refused before anything, even WAL, is written to it
            if self.read_only:
                conn = sqlite3.connect(read_only_uri(self.path), uri=True, timeout=BUSY_TIMEOUT_S,
                                       isolation_level=None, check_same_thread=False)  # fmt: skip
                self._refuse_foreign(conn)
            else:
                conn = connect(self.path, busy_timeout=BUSY_TIMEOUT_S, budget=BUSY_TIMEOUT_S, wal=not self.memory,
                               check=self._refuse_foreign)  # fmt: skip
            self._migrate(conn)
        except BaseException as exc:
            if conn is not None:
                conn.close()
            if is_busy(exc):
                raise _busy(self.path, "open", exc) from None
            if is_corrupt(exc):
                raise StoreError(
                    f"{self.path} is not a trace_opt store ({exc})", hint="open a file created by trace_opt.Store"
                ) from None
            if isinstance(exc, sqlite3.Error):
                raise StoreError(f"cannot open store {self.path}: {exc}", hint="check the path and its permissions") from None
            raise
        return conn

    def _refuse_foreign(self, conn: sqlite3.Connection) -> None:
        """Raise ``StoreError`` if the file is another program's or a newer format (reads only)."""
        version = retry_busy(lambda: conn.execute("PRAGMA user_version").fetchone()[0], BUSY_TIMEOUT_S)
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if tables - {"objects", "refs", "runs", "calls"}:
            raise StoreError(
                f"{self.path} is an SQLite file of another program (tables {sorted(tables)[:5]})",
                hint="give trace_opt.Store a new file",
            )
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"{self.path} has store format {version}; this trace_opt reads up to {SCHEMA_VERSION}",
                hint="upgrade trace_opt",
            )

    def _migrate(self, conn: sqlite3.Connection) -> None:
        version = retry_busy(lambda: conn.execute("PRAGMA user_version").fetchone()[0], BUSY_TIMEOUT_S)
        if version == SCHEMA_VERSION:
            return
        if version == 0 and self.read_only:
            raise StoreError(f"{self.path} is not a trace_opt store (it has no store tables)",
                             hint="open a file created by trace_opt.Store")  # fmt: skip
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"{self.path} has store format {version}; this trace_opt reads up to {SCHEMA_VERSION}",
                hint="upgrade trace_opt",
            )
        with self._transaction(conn):
            if conn.execute("PRAGMA user_version").fetchone()[0] == 0:  # another process may have won
                tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
                if tables - {"objects", "refs", "runs", "calls"}:
                    raise StoreError(
                        f"{self.path} is an SQLite file of another program (tables {sorted(tables)[:5]})",
                        hint="give trace_opt.Store a new file",
                    )
                for stmt in _SCHEMA.split(";"):
                    if stmt.strip():
                        conn.execute(stmt)
                conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")

    @contextlib.contextmanager
    def _transaction(self, conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
        retry_busy(lambda: conn.execute("BEGIN IMMEDIATE"), BUSY_TIMEOUT_S)
        try:
            yield conn
            retry_busy(lambda: conn.execute("COMMIT"), BUSY_TIMEOUT_S)
        except BaseException:
            if conn.in_transaction:  # nothing of a failed write may linger for the next one
                conn.execute("ROLLBACK")
            raise

    @property
    def conn(self) -> sqlite3.Connection:
        if self._conn is None:
            raise StoreError(f"store {self.path} is closed", hint="open a new trace_opt.Store")
        if self._pid != os.getpid() and not self.memory:
            # A forked child must not share the parent's SQLite handle. Keep the old one
            # referenced (closing it here would disturb the parent's locks) and reconnect.
            self._inherited.append(self._conn)
            self._pid = os.getpid()
            self._conn = self._connect()
        return self._conn

    @contextlib.contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """One atomic write transaction (serialised across threads and processes)."""
        with self._lock:
            try:
                with self._transaction(self.conn) as conn:
                    yield conn
            except sqlite3.Error as exc:
                if is_busy(exc):
                    raise _busy(self.path, "write to", exc) from None
                raise StoreError(f"writing to store {self.path} failed: {exc}", hint=_hint(exc)) from None

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        """All rows of one read statement (a consistent snapshot)."""
        with self._lock:
            conn = self.conn
            try:
                return retry_busy(lambda: conn.execute(sql, params).fetchall(), BUSY_TIMEOUT_S)
            except sqlite3.Error as exc:
                if is_busy(exc):
                    raise _busy(self.path, "read", exc) from None
                raise StoreError(f"reading store {self.path} failed: {exc}", hint=_hint(exc)) from None

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None


def _busy(path: str, action: str, exc: BaseException) -> StoreBusy:
    return StoreBusy(
        f"cannot {action} store {path}: other processes kept it locked for over {BUSY_TIMEOUT_S:.0f}s ({exc})",
        hint="nothing was changed by this call and every earlier commit is kept; retry it later",
    )


def _hint(exc: sqlite3.Error) -> str:
    return "the file may be corrupt or on a filesystem without locking (use a local disk)"
