"""Node names: ``name:index`` for people, and ``stable_names`` for names that repeat across runs.

Names are for people reading prompts and pictures; identity is the object itself. Global
indexes come from one process-wide counter, so they depend on everything created before;
``stable_names`` numbers nodes in order of first use instead, so the same graph gets the
same names (and the same optimizer prompts, which then hit the LLM cache).
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterable
from contextlib import AbstractContextManager
from contextvars import ContextVar
from typing import Any, Protocol

from ..context import using

__all__ = ["NAMING", "Naming", "clean_name", "ids", "stable_names"]

# One counter for all nodes. next() on itertools.count is atomic under the GIL.
ids = itertools.count()


def clean_name(name: str) -> str:
    """Optimizer prompts use names as variable identifiers; keep them identifier-like."""
    return name.replace(":", "_").replace(" ", "_") or "node"


class _Named(Protocol):
    """A node as naming sees it (this module sits below the node classes)."""

    @property
    def base_name(self) -> str: ...


class Naming:
    """Indexes numbered in order of first use (see ``stable_names``)."""

    def __init__(self, first: Iterable[Any] = ()) -> None:
        self._index: dict[int, tuple[Any, int]] = {}  # the node is kept so its id stays unique
        self._lock = threading.Lock()  # threads started inside the block share the naming
        for n in first:
            self.index_of(n)

    def index_of(self, n: Any) -> int:
        entry = self._index.get(id(n))
        if entry is None:
            with self._lock:
                entry = self._index.setdefault(id(n), (n, len(self._index)))
        return entry[1]

    def name_of(self, n: _Named) -> str:
        """The prompt form (``py_name``) of ``n`` under this naming."""
        return f"{n.base_name}_{self.index_of(n)}"


NAMING: ContextVar[Naming | None] = ContextVar("trace_opt.naming", default=None)


def stable_names(first: Iterable[Any] = ()) -> AbstractContextManager[Naming]:
    """Within the block, ``node.name`` numbers nodes in order of first use, starting with
    ``first`` (e.g. an optimizer's parameters, in order).

    Global names depend on everything the process created before (and on thread timing),
    so two runs of the same program name its nodes differently; names that depend only on
    the graph make optimizer prompts identical across runs, so they hit the LLM cache.

    >>> import trace_opt as trace
    >>> x = trace.node(1, name="x")
    >>> with trace.stable_names([x]):
    ...     (x + 1).py_name, x.name
    ('add_1', 'x:0')
    """
    return using(NAMING, Naming(first))
