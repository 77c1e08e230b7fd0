"""``Store``: a content-addressed object store in one SQLite file.

An object is stored as its canonical JSON (``trace_opt.store.canonical``) under the sha256
of those bytes, so equal content is stored once and a digest names exactly one value. Named
refs (``"params/Agent"``) point at digests and are the only mutable state; runs keep their
calls in their own tables (``trace_opt.record``). Loading verifies each object's digest and
decodes data only, so a store file someone sends you cannot run code.
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from ..context import using
from ..errors import StoreError
from .canonical import digest as _digest
from .canonical import dumps, loads
from .db import Database

from .history import ParameterChange, ParamSource, Version, checkout, commit_parameters, diff, history
from .ref import Ref

if TYPE_CHECKING:
    import contextlib

__all__ = ["Ref", "Store", "active_store", "use_store"]

_CACHE_SIZE = 2048
_DIGEST = re.compile(r"[0-9a-f]{64}")
_HEX = re.compile(r"[0-9a-f]{1,63}")

_ACTIVE: ContextVar[Store | None] = ContextVar("trace_opt.store", default=None)


class Store:
    """Content-addressed storage of values, parameter versions and recorded runs.

    ``Store("runs.db")`` opens (or creates) one SQLite file; ``Store()`` is in memory, for
    tests. Safe to share between threads; several processes may open the same file and write
    concurrently.

    >>> store = Store()
    >>> a = store.commit(["roll", (1, 6)])
    >>> a == store.commit(["roll", (1, 6)]), store.get(a.digest)
    (True, ['roll', (1, 6)])
    """

    def __init__(self, path: str | os.PathLike[str] = ":memory:", *, read_only: bool = False) -> None:
        self.db = Database(path, read_only=read_only)
        self._cache: OrderedDict[str, bytes] = OrderedDict()
        self._cache_lock = threading.Lock()

    @property
    def path(self) -> str:
        """The file path (``":memory:"`` for an in-memory store)."""
        return self.db.path

    # -- objects ------------------------------------------------------------------------------
    def commit(self, obj: Any) -> Ref:
        """Store ``obj`` (once per distinct content) and return its ref.

        Raises ``SerializationError`` for a value with no canonical form.
        """
        data = dumps(obj)
        key = _digest(data)
        if key in self._cache or self.db.query("SELECT 1 FROM objects WHERE digest = ?", (key,)):
            return Ref(self, key)  # objects are immutable: a read is cheaper than a write
        with self.db.write() as conn:
            conn.execute("INSERT OR IGNORE INTO objects(digest, body) VALUES (?, ?)", (key, data))
        self._remember(key, data)
        return Ref(self, key)

    def put_many(self, blobs: Iterable[tuple[str, bytes]], conn: Any = None) -> None:
        """Insert canonical ``(digest, bytes)`` pairs, inside ``conn``'s transaction if given."""
        rows = list(blobs)
        if not rows:
            return
        if conn is not None:
            conn.executemany("INSERT OR IGNORE INTO objects(digest, body) VALUES (?, ?)", rows)
            return
        with self.db.write() as c:
            c.executemany("INSERT OR IGNORE INTO objects(digest, body) VALUES (?, ?)", rows)

    def raw(self, ref: Ref | str) -> bytes:
        """The canonical bytes of a stored object, checked against its digest."""
        key = self.resolve(ref)
        with self._cache_lock:
            data = self._cache.get(key)
            if data is not None:
                self._cache.move_to_end(key)
                return data
        rows = self.db.query("SELECT body FROM objects WHERE digest = ?", (key,))
        if not rows:
            raise StoreError(f"no object {key[:12]} in store {self.path}", hint="check the ref and the store path")
        data = bytes(rows[0][0]) if not isinstance(rows[0][0], str) else rows[0][0].encode("utf-8")
        if _digest(data) != key:
            raise StoreError(
                f"object {key[:12]} in {self.path} does not match its digest",
                hint="the store file was modified outside trace_opt; restore it from a backup",
            )
        self._remember(key, data)
        return data

    def _remember(self, key: str, data: bytes) -> None:
        with self._cache_lock:
            self._cache[key] = data
            if len(self._cache) > _CACHE_SIZE:
                self._cache.popitem(last=False)

    def get(self, ref: Ref | str, *, types: Iterable[type] = ()) -> Any:
        """The value stored under ``ref`` (a Ref, a digest or a unique digest prefix).

        ``types`` trusts extra classes for this load (see ``trace_opt.store.register_type``).
        """
        return loads(self.raw(ref), types=types)

    def resolve(self, ref: Ref | str) -> str:
        """The full digest for a Ref, a digest, or a unique prefix of at least 4 hex digits."""
        key = ref.digest if isinstance(ref, Ref) else ref
        if isinstance(key, str) and _DIGEST.fullmatch(key):
            return key
        if not isinstance(key, str) or not _HEX.fullmatch(key):
            raise StoreError(f"not a digest: {key!r}", hint="pass a Ref or the hex digest printed by it")
        if len(key) < 4:
            raise StoreError(f"digest prefix {key!r} is too short", hint="give at least 4 hex digits")
        rows = self.db.query("SELECT digest FROM objects WHERE digest >= ? AND digest < ? LIMIT 2", (key, key + "g"))
        if len(rows) != 1:
            what = "no object" if not rows else "more than one object"
            raise StoreError(f"{what} in {self.path} starts with {key!r}", hint="give more digits of the digest")
        return str(rows[0][0])

    def __contains__(self, ref: object) -> bool:
        if not isinstance(ref, (Ref, str)):
            return False
        key = ref.digest if isinstance(ref, Ref) else ref
        return bool(self.db.query("SELECT 1 FROM objects WHERE digest = ?", (key,)))

    def __len__(self) -> int:
        return int(self.db.query("SELECT count(*) FROM objects")[0][0])

    # -- named refs ---------------------------------------------------------------------------
    def set_ref(self, name: str, ref: Ref | str) -> Ref:
        """Point the name ``name`` at an object (like a git branch)."""
        if not isinstance(name, str) or not name:
            raise ValueError(f"Invalid ref name: {name!r}")
        key = self.resolve(ref)
        if key not in self:
            raise StoreError(f"no object {key[:12]} in store {self.path}", hint="commit the object first")
        with self.db.write() as conn:
            conn.execute("INSERT OR REPLACE INTO refs(name, digest, updated) VALUES (?, ?, ?)", (name, key, time.time()))
        return Ref(self, key)

    def ref(self, name: str) -> Ref | None:
        """The object ``name`` points at, or None."""
        rows = self.db.query("SELECT digest FROM refs WHERE name = ?", (name,))
        return Ref(self, rows[0][0]) if rows else None

    def refs(self, prefix: str = "") -> dict[str, Ref]:
        """Every named ref starting with ``prefix``."""
        rows = self.db.query("SELECT name, digest FROM refs WHERE name >= ? ORDER BY name", (prefix,))
        return {n: Ref(self, d) for n, d in rows if n.startswith(prefix)}

    # -- parameter history (trace_opt.store.history) ------------------------------------------
    def commit_parameters(
        self, params: ParamSource, message: str | None = None, parent: Ref | str | None = None, *, name: str | None = None
    ) -> Ref:
        """Store a version of a module's parameters; see ``trace_opt.store.history``."""
        return commit_parameters(self, params, message, parent, name=name)

    def history(self, target: Any, limit: int | None = None) -> list[Version]:
        """Versions of a module's parameters, newest first; see ``trace_opt.store.history``."""
        return history(self, target, limit)

    def diff(self, a: Ref | str, b: Ref | str) -> dict[str, ParameterChange]:
        """What changed per parameter from version ``a`` to version ``b``."""
        return diff(self, a, b)

    def checkout(self, ref: Ref | str, *, types: Iterable[type] = ()) -> Any:
        """A parameter version's state dict (for ``module.load_state_dict``), or the stored
        value for any other object."""
        return checkout(self, ref, types=types)

    # -- lifetime -----------------------------------------------------------------------------
    def close(self) -> None:
        """Close the file; refs to it stop working."""
        with self._cache_lock:
            self._cache.clear()
        self.db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Store({self.path!r})"


def use_store(store: Store) -> contextlib.AbstractContextManager[Store]:
    """Make ``store`` the active store for the block (``active_store()`` returns it).

    Code that stores things on the user's behalf -- optimizers committing parameters after
    each step -- looks for it here instead of taking a store argument everywhere.

    >>> with use_store(Store()) as s:
    ...     active_store() is s
    True
    """
    if not isinstance(store, Store):
        raise TypeError(f"use_store needs a trace_opt Store, got {type(store).__name__}")
    return using(_ACTIVE, store)


def active_store() -> Store | None:
    """The store set by the innermost ``use_store`` / ``record`` block, or None.

    >>> active_store() is None
    True
    """
    return _ACTIVE.get()

