"""``GRAPH``: Trace's global node registry, kept as a no-op for code ported from Trace.

trace_opt keeps no global graph: a graph lives as long as the output the user holds (see
``trace_opt.nodes``), so there is nothing to register and nothing to clear.
"""

from __future__ import annotations

__all__ = ["GRAPH"]


class _NoGraph:
    """Stand-in for Trace's global ``GRAPH`` registry, for code ported from Trace.

    There is nothing to clear: ``GRAPH.clear()`` does nothing, and Trace scripts that call it
    between examples run unchanged.

    >>> import trace_opt as trace
    >>> trace.GRAPH.clear()
    """

    __slots__ = ()

    def clear(self) -> None:
        """Nothing to do: unreferenced nodes are already freed."""

    def __len__(self) -> int:
        return 0

    def __repr__(self) -> str:
        return "<trace_opt GRAPH: no global registry (a no-op kept for code ported from Trace)>"


GRAPH = _NoGraph()
