"""``Ref``: the address of one stored object, and what a store must offer the modules above it.

Kept below ``store.store`` so that parameter history (``store.history``) can build refs and
read objects without importing the ``Store`` class that offers history as methods.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

__all__ = ["ObjectStore", "Ref"]


class ObjectStore(Protocol):
    """The part of a ``Store`` that parameter history uses (``trace_opt.store.Store`` is one)."""

    @property
    def db(self) -> Any: ...

    def get(self, ref: Ref | str, *, types: Iterable[type] = ()) -> Any: ...

    def resolve(self, ref: Ref | str) -> str: ...

    def put_many(self, blobs: Iterable[tuple[str, bytes]], conn: Any = None) -> None: ...

    def ref(self, name: str) -> Ref | None: ...

    def checkout(self, ref: Any, *, types: Iterable[type] = ()) -> Any: ...


@dataclass(frozen=True)
class Ref:
    """The address of one stored object: ``digest`` (sha256 hex) in ``store``.

    >>> from trace_opt.store import Store
    >>> store = Store()
    >>> ref = store.commit({"temperature": 0.2})
    >>> ref.checkout(), len(ref.digest), str(ref) == ref.digest
    ({'temperature': 0.2}, 64, True)
    """

    store: ObjectStore = field(repr=False, compare=False)
    digest: str

    def checkout(self, types: Iterable[type] = ()) -> Any:
        """The stored value (for a parameter version: its state dict, see ``Store.checkout``)."""
        return self.store.checkout(self, types=types)

    @property
    def short(self) -> str:
        """The first 12 hex digits, enough to name an object in a store (``store.resolve``)."""
        return self.digest[:12]

    def __str__(self) -> str:
        return self.digest
