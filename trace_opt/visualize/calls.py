"""The call tree of a recorded run (``trace.record``) as a picture: what ``trace-opt graph``
draws and what ``render(run)`` returns.

The picture itself is written by ``replay.dot`` (it is ``Run.dot()``, available without the
``graphviz`` package); here it only becomes a ``graphviz.Source``, which renders to SVG, PNG or
PDF and shows itself in a notebook.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..drawing import WRAP, graphviz_module
from ..replay.dot import call_kind, render_dot

if TYPE_CHECKING:
    import graphviz  # type: ignore[import-untyped]

    from ..replay import Run

__all__ = ["call_kind", "render_run"]


def render_run(run: Run | Any, rankdir: str = "auto", wrap_width: int = WRAP, show_legend: bool = True) -> graphviz.Source:
    """A ``graphviz.Source`` of a recorded run's call tree (:func:`replay.dot.render_dot`: one
    box per call, ``index: name(args) = output``, wrapped, children after their parent in start
    order, and a legend).

    >>> import trace_opt as trace
    >>> from trace_opt.store import Store
    >>> double = trace.bundle()(lambda x: 2 * x)
    >>> with trace.record(Store()) as run:
    ...     _ = double(double(1))
    >>> render_run(run).source == run.dot()
    True
    """
    overrides = {int(i) for i in run.meta.get("overrides") or []}
    source = render_dot(run.calls, run.point, overrides, rankdir=rankdir, wrap_width=wrap_width, show_legend=show_legend)
    return graphviz_module().Source(source)
