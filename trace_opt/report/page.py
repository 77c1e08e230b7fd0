"""The report page: one self-contained HTML file per training run.

Everything is inline -- CSS, JavaScript, the charts (SVG drawn by the templates) and the graph
(graphviz's SVG, or its DOT source as text when the ``dot`` binary is missing) -- so the file
can be mailed, attached to an issue or opened from disk with no server and no network. This
module computes what the page shows; ``templates/page.html.j2`` lays it out.
"""

from __future__ import annotations

import json
import os
import re
import time
from itertools import accumulate
from pathlib import Path
from typing import Any

from ..secrets import logger, redact
from .charts import Chart, bar_geometry, line_geometry
from .data import ReportData, StepRecord
from .diffs import changes
from .templating import render

__all__ = ["graph_picture", "render_report", "write_report"]

log = logger(__name__)


def graph_picture(output: Any, **options: Any) -> tuple[str | None, str]:
    """``(svg or None, dot source)`` of a node's graph or a recorded run, for ``ReportData``.

    ``options`` go to ``trace_opt.render`` (``rankdir="LR"`` lays out wide graphs left to
    right). The SVG is ``None`` when graphviz's ``dot`` binary is missing; the DOT source
    always works.

    >>> import trace_opt as trace
    >>> svg, dot = graph_picture(trace.node("a", trainable=True) + "b")
    >>> dot.startswith("digraph")
    True
    """
    from ..visualize import render

    graph = render(output, **options)
    try:
        return graph.pipe(format="svg").decode("utf-8"), graph.source
    except Exception as exc:  # noqa: BLE001 - no dot binary (or a broken one): fall back to the text
        log.info("no SVG for the report graph (%s); embedding the DOT source", exc)
        return None, graph.source


_UNSAFE_SVG = re.compile(r"<script|<foreignObject|<iframe|<embed|<object|\son[a-z]+\s*=|javascript:|<use\b", re.I)


def _graph(data: ReportData) -> dict[str, Any]:
    """The graph section: the SVG to inline (from its ``<svg`` tag), or why not, and the DOT."""
    svg, refused = data.graph_svg or None, False
    if svg is not None:
        start = svg.find("<svg")
        refused = start < 0 or bool(_UNSAFE_SVG.search(svg))
        if refused:
            log.warning("report graph: the SVG is not embedded (no <svg> tag, or scripts / event handlers in it)")
        svg = None if refused else svg[start:]
    return {"svg": svg, "refused": refused, "dot": data.graph_dot or None}


def _value(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, indent=2, ensure_ascii=False, default=repr)


def _charts(steps: list[StepRecord]) -> list[Chart]:
    xs = [s.step for s in steps]
    score = line_geometry("score-chart", "Score per step", xs,
                          {"score": [s.score for s in steps], "best": [s.best for s in steps]},
                          {"score": [s.score_ci for s in steps]})  # fmt: skip
    out = [score, bar_geometry("tokens-chart", "Tokens per step", xs, [float(s.tokens) for s in steps])]
    if any(s.cost for s in steps):
        out.append(line_geometry("cost-chart", "Cost (cumulative $)", xs, {"cost $": list(accumulate(s.cost for s in steps))}))
    return out


def _steps(data: ReportData) -> list[dict[str, Any]]:
    """Each step with its diff against the values before it and whether it changed anything."""
    out, before = [], dict(data.initial) if data.initial else None
    for s in data.steps:
        diffs = changes(before, dict(s.values)) if before is not None and s.values is not None else {}
        changed = bool(diffs) or (s.values is None and bool(s.changed))
        out.append({"record": s, "diffs": diffs, "changed": changed, "names": list(diffs or s.changed)})
        if s.values is not None:
            before = dict(s.values)
    return out


def _context(data: ReportData) -> dict[str, Any]:
    """What ``page.html.j2`` shows, computed: the template only lays it out."""
    steps = data.steps
    scores = [s.score for s in steps if s.score is not None]
    best = max((b for b in (s.best if s.best is not None else s.score for s in steps) if b is not None), default=None)
    initial = changes(data.initial, data.final) if data.initial else {}
    return {
        "title": data.title,
        "meta": [(str(k), str(v)) for k, v in data.meta.items()],
        "first": scores[0] if scores else None,
        "best": best,
        "n": sum(1 for s in steps if s.step > 0),  # step 0 is the evaluation before training, not a step
        "seconds": data.seconds if data.seconds is not None else sum(s.seconds or 0.0 for s in steps) or None,
        "tokens": sum(s.tokens for s in steps),
        "cost": sum(s.cost for s in steps),
        "last_note": steps[-1].note if steps else "",
        "statistics": [s for s in steps if s.score_se is not None or s.score_ci is not None],
        "charts_": _charts(steps),
        "params": [{"name": k, "value": _value(v), "diff": initial.get(k)} for k, v in data.final.items()],
        "compared": bool(data.initial),
        "steps": _steps(data),
        "graph": _graph(data),
        "made": time.strftime("%Y-%m-%d %H:%M"),
    }


def render_report(data: ReportData) -> str:
    """The report page as one HTML string (``templates/page.html.j2``).

    >>> from trace_opt.report import ReportData, StepRecord
    >>> html = render_report(ReportData("demo", [StepRecord(1, score=0.5, values={"p": "b"})], initial={"p": "a"}))
    >>> html.startswith("<!DOCTYPE html>"), 'id="score-chart"' in html, '<ins class="add">b</ins>' in html
    (True, True, True)
    """
    if not isinstance(data, ReportData):
        raise TypeError(f"Invalid report data: {type(data).__name__}\nhelp: pass a trace_opt.report.ReportData")
    data = redact(data)  # a report is shared: known secrets (trace_opt.secrets) never reach it
    return render("page.html.j2", **_context(data))


def write_report(path: str | os.PathLike[str], data: ReportData) -> Path:
    """Write the page to ``path`` (parent folders are created) and return the path.

    >>> import tempfile, pathlib
    >>> from trace_opt.report import ReportData
    >>> p = write_report(pathlib.Path(tempfile.mkdtemp()) / "report.html", ReportData("demo", []))
    >>> p.read_text(encoding="utf-8").count("<html")
    1
    """
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render_report(data), encoding="utf-8")
    return out
