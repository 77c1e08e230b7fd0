"""The run report: one self-contained HTML page per training run.

Score and cost curves, each step's feedback and parameter diff, the final parameters and the
graph of the final step, in a single file that opens in any browser with no server.

>>> from trace_opt.report import ReportData, render_report, steps_from_log
>>> log = [{"step": 1, "score": 0.5, "tokens": 300, "values": {"prompt": "Be brief."}},
...        {"step": 2, "score": 0.75, "tokens": 280, "values": {"prompt": "Be very brief."}}]
>>> page = render_report(ReportData("My run", steps_from_log(log), initial={"prompt": "Be brief."},
...                                 final={"prompt": "Be very brief."}))
>>> '<ins class="add">very </ins>' in page
True

- ``data``: ``ReportData`` / ``StepRecord`` (typed input) and ``steps_from_log`` (from a
  training log's list of dicts, e.g. ``optimizers.TrainLog``).
- ``charts``: the inline SVG charts' coordinates; ``diffs``: parameter diffs.
- ``page``: ``render_report``, ``write_report`` and ``graph_picture``.
- ``templating`` and ``templates/``: the markup, as jinja2 templates (autoescaped; jinja2 is
  imported on the first render).
"""

from __future__ import annotations

from .data import ReportData, StepRecord, steps_from_log
from .diffs import diff_html, diff_values
from .page import graph_picture, render_report, write_report

__all__ = [
    "ReportData",
    "StepRecord",
    "diff_html",
    "diff_values",
    "graph_picture",
    "render_report",
    "steps_from_log",
    "write_report",
]
