"""The report page: one self-contained HTML file per training run.

Everything is inline -- CSS, JavaScript, the charts (SVG made here) and the graph (graphviz's
SVG, or its DOT source as text when the ``dot`` binary is missing) -- so the file can be
mailed, attached to an issue or opened from disk with no server and no network.
"""

from __future__ import annotations

import json
import os
import time
from html import escape
from pathlib import Path
from typing import Any

from ..secrets import logger, redact
from .assets import CSS, JS
from .charts import bar_chart, line_chart
from .data import ReportData, StepRecord
from .diffs import diff_values

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


def _fmt(value: float | None, digits: int = 3) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def _value(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, indent=2, ensure_ascii=False, default=repr)
    return f"<pre>{escape(text)}</pre>"


def _inline_svg(svg: str) -> str:
    start = svg.find("<svg")
    return svg[start:] if start >= 0 else escape(svg)


def _training(data: ReportData) -> list[StepRecord]:
    """The training steps: step 0 is the evaluation before training, not a step."""
    return [s for s in data.steps if s.step > 0]


def _seconds(data: ReportData) -> float | None:
    if data.seconds is not None:
        return data.seconds
    return sum(s.seconds or 0.0 for s in data.steps) or None


def _best(data: ReportData) -> float | None:
    best = [s.best if s.best is not None else s.score for s in data.steps]
    return max((b for b in best if b is not None), default=None)


def _summary(data: ReportData) -> str:
    scores = [s.score for s in data.steps if s.score is not None]
    seconds = _seconds(data)
    cards = [
        ("first score", _fmt(scores[0]) if scores else "–"),
        ("best score", _fmt(_best(data))),
        ("steps", str(len(_training(data)))),
        ("tokens", f"{sum(s.tokens for s in data.steps):,}"),
        ("cost", f"${sum(s.cost for s in data.steps):.4f}"),
        ("time", f"{seconds:.0f} s" if seconds else "–"),
    ]
    return '<div class="cards">' + "".join(
        f'<div class="card"><div class="muted">{escape(k)}</div><div class="big">{escape(v)}</div></div>' for k, v in cards
    ) + "</div>"  # fmt: skip


def _subtitle(data: ReportData) -> str:
    """One sentence on the run: first and best score, steps, time, why it stopped."""
    scores = [s.score for s in data.steps if s.score is not None]
    n = len(_training(data))
    parts = [f"score {_fmt(scores[0])} → {_fmt(_best(data))}" if scores else "no score recorded",
             f"{n} step{'s' * (n != 1)}"]  # fmt: skip
    seconds = _seconds(data)
    if seconds:
        parts.append(f"{seconds:.0f} s")
    if n and data.steps[-1].note:
        parts.append(data.steps[-1].note)
    return f'<p class="subtitle">{escape(", ".join(parts))}</p>'


def _charts(steps: list[StepRecord]) -> str:
    xs = [s.step for s in steps]
    score = line_chart("score-chart", "Score per step", xs,
                       {"score": [s.score for s in steps], "best": [s.best for s in steps]})  # fmt: skip
    tokens = bar_chart("tokens-chart", "Tokens per step", xs, [float(s.tokens) for s in steps])
    parts = [score, tokens]
    if any(s.cost for s in steps):
        total, cumulative = 0.0, []
        for s in steps:
            total += s.cost
            cumulative.append(total)
        parts.append(line_chart("cost-chart", "Cost (cumulative $)", xs, {"cost $": cumulative}))
    return f'<div class="charts">{"".join(parts)}</div>'


def _params(data: ReportData) -> str:
    diffs = diff_values(data.initial, data.final) if data.initial else {}
    rows = []
    for name, value in data.final.items():
        change = f'<div class="muted">changed from the start:</div>{diffs[name]}' if name in diffs else (
            '<div class="muted">unchanged</div>' if data.initial else "")  # fmt: skip
        rows.append(f'<div class="param"><b>{escape(name)}</b>{_value(value)}{change}</div>')
    return "".join(rows) or '<p class="muted">No parameters recorded.</p>'


def _step(s: StepRecord, before: dict[str, Any] | None) -> str:
    diffs = diff_values(before, dict(s.values)) if before is not None and s.values is not None else {}
    changed = bool(diffs) or (s.values is None and bool(s.changed))
    head = [f"Step {s.step}", f"score {_fmt(s.score)}", f"best {_fmt(s.best)}", f"{s.tokens:,} tokens"]
    if s.seconds is not None:
        head.append(f"{s.seconds:.1f} s")
    head.append("changed: " + ", ".join(diffs or s.changed) if changed else "no change")
    body = []
    for name, html in diffs.items():
        body.append(f'<div class="param diff" data-param="{escape(name)}"><b>{escape(name)}</b>{html}</div>')
    if s.feedback:
        items = "".join(f"<li>{escape(f)}</li>" for f in s.feedback)
        body.append(f'<div class="muted">feedback the optimizer read:</div><ul class="feedback">{items}</ul>')
    if s.candidates:
        items = "".join(f"<li>{escape(c)}</li>" for c in s.candidates)
        body.append(f'<div class="muted">candidates tried:</div><ul class="candidates">{items}</ul>')
    if s.reasoning:
        body.append(f'<div class="muted">the optimizer\'s reasoning:</div><pre class="reasoning">{escape(s.reasoning)}</pre>')
    if s.note:
        body.append(f'<div class="muted note">{escape(s.note)}</div>')
    return (f'<details class="step" id="step-{s.step}" data-changed="{int(changed)}"{" open" if changed else ""}>'
            f'<summary>{escape(" · ".join(head))}</summary>{"".join(body) or "<p class=muted>nothing recorded</p>"}'
            f"</details>")  # fmt: skip


def _steps(data: ReportData) -> str:
    out, before = [], dict(data.initial) if data.initial else None
    for s in data.steps:
        out.append(_step(s, before))
        if s.values is not None:
            before = dict(s.values)
    return "".join(out)


def _graph(data: ReportData) -> str:
    if data.graph_svg:
        return f'<div class="graph">{_inline_svg(data.graph_svg)}</div>'
    if data.graph_dot:
        return ('<p class="muted">graphviz\'s <code>dot</code> was not found, so here is the DOT source '
                f'(apt-get install graphviz to draw it):</p><pre class="dot">{escape(data.graph_dot)}</pre>')  # fmt: skip
    return '<p class="muted">No graph recorded.</p>'


def render_report(data: ReportData) -> str:
    """The report page as one HTML string.

    >>> from trace_opt.report import ReportData, StepRecord
    >>> html = render_report(ReportData("demo", [StepRecord(1, score=0.5, values={"p": "b"})], initial={"p": "a"}))
    >>> html.startswith("<!DOCTYPE html>"), 'id="score-chart"' in html, '<ins class="add">b</ins>' in html
    (True, True, True)
    """
    if not isinstance(data, ReportData):
        raise TypeError(f"Invalid report data: {type(data).__name__}\nhelp: pass a trace_opt.report.ReportData")
    data = redact(data)  # a report is shared: known secrets (trace_opt.secrets) never reach it
    meta = "".join(f"<tr><th>{escape(str(k))}</th><td>{escape(str(v))}</td></tr>" for k, v in data.meta.items())
    title = escape(data.title)
    return f"""<!DOCTYPE html>
<html lang="en" data-ready="false"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title><style>{CSS}</style></head>
<body><main>
<h1>{title}</h1>{_subtitle(data)}<p class="muted" id="js-status">JavaScript is off: the page still reads top to bottom.</p>
{f'<table class="meta">{meta}</table>' if meta else ''}
<h2>Summary</h2>{_summary(data)}
<h2>Curves</h2>{_charts(data.steps)}
<h2>Final parameters</h2><section>{_params(data)}</section>
<h2>Steps</h2><label><input type="checkbox" id="only-changed" disabled> only steps that changed a parameter</label>
{_steps(data)}
<h2>Graph of the final step</h2><section>{_graph(data)}</section>
<footer>Made by trace_opt on {time.strftime("%Y-%m-%d %H:%M")}. One file, no network needed.</footer>
</main><script>{JS}</script></body></html>
"""


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
