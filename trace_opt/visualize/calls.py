"""The call tree of a recorded run (``trace.record``) as a picture: what ``trace-opt graph``
draws and what ``render(run)`` returns.

The same kinds and legend as a node graph, plus what replay adds: calls whose output came from
the record, overridden outputs, a call waiting for a person's answer, and the calls that run
afresh after a replay point (dashed).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..secrets import redactor
from .style import KINDS, WRAP, choose_rankdir, dot_label, graphviz_module, legend, wrap

if TYPE_CHECKING:
    import graphviz  # type: ignore[import-untyped]

    from ..replay import Call, Run

__all__ = ["call_kind", "render_run"]


def call_kind(call: Call, point: int | None, overrides: set[int]) -> str:
    """The legend kind of a recorded call (the most telling one when several apply)."""
    if call.paused:
        return "waiting"
    if call.error is not None:
        return "exception"
    if call.overridden or call.index in overrides:
        return "override"
    if call.replayed:
        return "replayed"
    if point is not None and call.end >= point:  # the replay point is inside it: it runs again
        return "afresh"
    if call.tokens != (0, 0) or "llm" in call.info:
        return "llm"
    return "call"


def _depths(calls: list[Call]) -> dict[int, int]:
    depth: dict[int, int] = {}
    for c in calls:  # start order: a parent before its children
        depth[c.index] = depth[c.parent] + 1 if c.parent in depth else 0
    return depth


def render_run(run: Run | Any, rankdir: str = "auto", wrap_width: int = WRAP, show_legend: bool = True) -> graphviz.Digraph:
    """A ``graphviz.Digraph`` of a recorded run's call tree: one box per call (``index:
    name(args) = output``, wrapped), children after their parent in start order.

    ``rankdir="auto"`` puts children to the right of their parent when the tree is wider than
    deep (the usual run: many calls at the top level), below it otherwise.

    >>> import trace_opt as trace
    >>> from trace_opt.store import Store
    >>> double = trace.bundle()(lambda x: 2 * x)
    >>> with trace.record(Store()) as run:
    ...     _ = double(double(1))
    >>> "cluster_legend" in render_run(run).source
    True
    """
    graphviz = graphviz_module()
    calls = run.calls
    point = run.point
    overrides = {int(i) for i in run.meta.get("overrides") or []}
    if rankdir == "auto":
        rankdir = choose_rankdir(_depths(calls))
    dot = graphviz.Digraph("run", graph_attr={"rankdir": rankdir, "ordering": "out"},
                           node_attr={"shape": "box", "style": "rounded,filled", "fontsize": "11"})  # fmt: skip
    redact = redactor().text
    known = {c.index for c in calls}
    kinds = []
    for c in calls:
        kind = call_kind(c, point, overrides)
        kinds.append(kind)
        body = wrap(redact(f"{c.index}: {c.headline()}"), wrap_width)
        p, k = c.tokens
        if p or k:
            body.append(f"tokens {p}+{k}")
        dot.node(f"c{c.index}", dot_label((), body), **KINDS[kind][1])
        if c.parent is not None and c.parent in known:
            dot.edge(f"c{c.parent}", f"c{c.index}")
    roots = [c.index for c in calls if c.parent is None or c.parent not in known]
    if len(roots) > 1:  # top-level calls in start order (dot would otherwise reverse a column)
        with dot.subgraph() as row:
            row.attr(rank="same")
            for a, b in zip(roots, roots[1:]):
                row.edge(f"c{a}", f"c{b}", style="invis")
    if show_legend:
        legend(dot, kinds)
    return dot
