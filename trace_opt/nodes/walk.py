"""Walks up a node's parents: its ancestry and its depth.

Iterative, never recursive, so a 100k-node chain needs no raised recursion limit. They read
only ``_parents``, so they sit below the node classes.
"""

from __future__ import annotations

from typing import Any

__all__ = ["ancestry", "depth"]


def ancestry(start: Any) -> list[Any]:
    """``start`` and every node it was computed from, each once (``start`` first)."""
    seen = {id(start)}
    order = [start]
    stack = [start]
    while stack:
        for p in stack.pop()._parents:
            if id(p) not in seen:
                seen.add(id(p))
                order.append(p)
                stack.append(p)
    return order


def depth(start: Any) -> int:
    """The length of the longest path from a root to ``start`` (roots are 0)."""
    levels: dict[int, int] = {}
    stack: list[tuple[Any, bool]] = [(start, False)]
    while stack:
        n, done = stack.pop()
        if id(n) in levels:
            continue
        if done or not n._parents:
            levels[id(n)] = max((levels[id(p)] + 1 for p in n._parents), default=0)
            continue
        stack.append((n, True))
        stack.extend((p, False) for p in n._parents if id(p) not in levels)
    return levels[id(start)]
