"""The picture of a recorded run's call tree, as DOT text: what ``Run.dot()`` returns,
``trace.render(run)`` / ``visualize.render_run`` draw and ``trace-opt graph`` writes.

One box per call (``index: name(args) = output``, wrapped), children after their parent in
start order, the same kinds and legend as a node graph (``trace_opt.drawing``), plus what
replay adds: calls whose output came from the record, overridden outputs, a call waiting for a
person's answer, and the calls that run afresh after a replay point (dashed). Written here,
below ``visualize``, so a run has its picture's source without the optional ``graphviz``
package; ``visualize`` only hands it to graphviz to draw.
"""

from __future__ import annotations

from collections.abc import Iterable

from ..drawing import KINDS, WRAP, attrs, choose_rankdir, dot_label, legend_lines, wrap
from ..secrets import redactor
from .calls import Call

__all__ = ["call_kind", "render_dot"]


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


def render_dot(
    calls: list[Call],
    point: int | None = None,
    overrides: Iterable[int] = (),
    rankdir: str = "auto",
    wrap_width: int = WRAP,
    show_legend: bool = True,
) -> str:
    """DOT source of the call tree of ``calls`` (a run's, in start order), ``point`` its replay
    point and ``overrides`` the indices whose output was given.

    ``rankdir="auto"`` puts children to the right of their parent when the tree is wider than
    deep (the usual run: many calls at the top level), below it otherwise.

    >>> import trace_opt as trace
    >>> from trace_opt.store import Store
    >>> double = trace.bundle()(lambda x: 2 * x)
    >>> with trace.record(Store()) as run:
    ...     _ = double(double(1))
    >>> for line in render_dot(run.calls, show_legend=False).splitlines()[3:5]:
    ...     print(line.strip())
    c0 [label="0: <lambda>(1) = 2\\l" color="#2a5db0" fillcolor="#d6e6ff"]
    c1 [label="1: <lambda>(2) = 4\\l" color="#2a5db0" fillcolor="#d6e6ff"]
    """
    overrides = {int(i) for i in overrides}
    if rankdir == "auto":
        rankdir = choose_rankdir(_depths(calls))
    lines = ["digraph run {\n", f"\tgraph {attrs(ordering='out', rankdir=rankdir)}\n",
             f"\tnode {attrs(fontsize='11', shape='box', style='rounded,filled')}\n"]  # fmt: skip
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
        lines.append(f"\tc{c.index} {attrs(label=dot_label((), body), **KINDS[kind][1])}\n")
        if c.parent is not None and c.parent in known:
            lines.append(f"\tc{c.parent} -> c{c.index}\n")
    roots = [c.index for c in calls if c.parent is None or c.parent not in known]
    if len(roots) > 1:  # top-level calls in start order (dot would otherwise reverse a column)
        lines += ["\tsubgraph {\n", "\t\trank=same\n"]
        lines += [f"\t\tc{a} -> c{b} [style=invis]\n" for a, b in zip(roots, roots[1:])]
        lines.append("\t}\n")
    if show_legend:
        lines += legend_lines(kinds)
    lines.append("}\n")
    return "".join(lines)
