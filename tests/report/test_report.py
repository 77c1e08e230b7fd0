"""The run report: rendering, escaping, diffs, charts, and loading it in headless Chromium."""

from __future__ import annotations

import doctest
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

import trace_opt as trace
import trace_opt.report as report_pkg
from trace_opt.report import ReportData, StepRecord, diff_html, graph_picture, render_report, steps_from_log, write_report
from trace_opt.report import charts, data, diffs, page, templating

CHROMIUM = "/usr/bin/chromium"

LOG = [
    {"step": 1, "score": 0.5, "best": 0.5, "tokens": 1200, "cost": 0.001, "seconds": 3.0, "changed": [],
     "values": {"instruction": "Answer negative."}, "feedback": ["Wrong: 'I loved it' is positive."]},
    {"step": 2, "score": 0.83, "best": 0.83, "tokens": 900, "cost": 0.002, "seconds": 2.5, "changed": ["instruction"],
     "values": {"instruction": "Classify the sentiment of the review."}, "reasoning": "ignore the word negative",
     "note": "kept candidate 3"},
    {"step": 3, "score": None, "best": 0.83, "tokens": 0, "note": "budget exhausted"},
]  # fmt: skip


def sample() -> ReportData:
    x = trace.node("Answer negative.", trainable=True, name="instruction")
    svg, dot = graph_picture(x + " <b>")
    return ReportData("Demo <run> & co", steps_from_log(LOG), initial={"instruction": "Answer negative."},
                      final={"instruction": "Classify the sentiment of the review."}, graph_svg=svg, graph_dot=dot,
                      meta={"backend": "local", "run": "r1"})  # fmt: skip


@pytest.mark.parametrize("module", [report_pkg, charts, data, diffs, page, templating])
def test_doctests(module: object) -> None:
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)  # type: ignore[arg-type]
    assert result.failed == 0


def test_all_is_sorted() -> None:
    assert report_pkg.__all__ == sorted(report_pkg.__all__)


def test_page_is_self_contained_and_escaped() -> None:
    html = render_report(sample())
    assert "<title>Demo &lt;run&gt; &amp; co</title>" in html
    assert not re.search(r'(src|href)="(https?:)?//', html), "the page must not fetch anything"
    assert "<script src" not in html and "<link" not in html
    assert html.count('class="step"') == 3 and 'id="step-2"' in html
    assert '<del class="del">negative.</del><ins class="add">the sentiment of the review.</ins>' in html
    assert "Wrong: &#39;I loved it&#39; is positive." in html and "ignore the word negative" in html
    assert 'id="score-chart"' in html and 'id="tokens-chart"' in html and 'id="cost-chart"' in html


def test_the_page_inlines_its_css_and_script() -> None:
    html = render_report(sample())
    folder = Path(templating.__file__).parent / "templates"
    for name in ("report.css", "report.js"):
        assert (folder / name).read_text(encoding="utf-8").rstrip("\n") in html, name
    assert html.count("<style>") == 1 and html.count("<script>") == 1


def test_evaluation_statistics_are_shown_when_the_log_has_them() -> None:
    log = [{"step": 0, "score": 0.5, "score_se": 0.1, "score_ci": [0.3, 0.7], "score_n": 8},
           {"step": 1, "score": 0.75, "best": 0.75, "score_se": 0.05, "score_ci": (0.625, 0.875), "score_n": 8},
           {"step": 2, "score": 0.6, "score_ci": [0.9, 0.1]}]  # an inverted interval is not drawn
    steps = steps_from_log(log)
    assert steps[1].score_ci == (0.625, 0.875) and steps[2].score_ci is None and steps[1].score_n == 8
    html = render_report(ReportData("stats", steps))
    table = re.search(r'<table class="statistics">(.*?)</table>', html, re.S)
    assert table is not None and table.group(1).count("<tr data-step=") == 2
    assert "<td>0.750</td><td>0.050</td><td>0.625–0.875</td><td>8</td>" in table.group(1)
    assert "score 0.750 ± 0.050 · best" in html  # the step's headline
    assert "score 0.750, standard error 0.050, 95% interval 0.625–0.875, over 8 examples" in html
    whiskers = re.findall(r'<line class="interval" data-step="(\d+)"', html)
    assert whiskers == ["0", "1"]
    plain = render_report(ReportData("plain", steps_from_log(LOG)))
    assert "Evaluation statistics" not in plain and 'class="interval"' not in plain and " ± " not in plain


def test_missing_scores_and_empty_logs_render() -> None:
    html = render_report(ReportData("empty", []))
    assert "No score per step recorded." in html and "No parameters recorded." in html
    steps = steps_from_log([{"step": 1, "score": float("nan")}, {"score": True}])
    assert [s.score for s in steps] == [None, None] and [s.step for s in steps] == [1, 1]


def test_bad_input_is_a_clear_error() -> None:
    with pytest.raises(TypeError, match="help: pass dicts"):
        steps_from_log([1])  # type: ignore[list-item]
    with pytest.raises(TypeError, match="help: pass a trace_opt.report.ReportData"):
        render_report({"title": "x"})  # type: ignore[arg-type]


def test_code_diffs_are_line_diffs() -> None:
    html = diff_html("f", "def f(x):\n    return x\n", "def f(x):\n    return 2 * x\n")
    assert '<span class="del">-    return x</span>' in html and '<span class="add">+    return 2 * x</span>' in html
    assert "&lt;" in diff_html("p", "<a>", "<b>")


def test_without_dot_the_graph_is_dot_text(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    svg, dot = graph_picture(trace.node("a") + "b")
    assert svg is None and dot.startswith("digraph")
    html = render_report(ReportData("t", [], graph_dot=dot))
    assert 'class="dot"' in html and "apt-get install graphviz" in html


def _chromium(args: list[str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
           "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run",
           f"--user-data-dir={tmp_path / 'profile'}", *args]  # fmt: skip
    env = {**os.environ, "HOME": str(tmp_path)}
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=env)


@pytest.mark.slow
@pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="needs Debian's chromium (apt-get install chromium)")
def test_report_renders_in_headless_chromium(tmp_path: Path) -> None:
    path = write_report(tmp_path / "report.html", sample())
    res = _chromium(["--virtual-time-budget=2000", "--dump-dom", path.as_uri()], tmp_path)
    dom = res.stdout
    assert res.returncode == 0 and "<html" in dom, res.stderr[-2000:]
    assert 'data-ready="true"' in dom, "the page's script did not run"
    assert re.search(r'id="js-status" hidden', dom)  # the "JavaScript is off" note is hidden by the script
    # the curves: a polyline per series with real coordinates, a dot per scored step
    lines = re.findall(r'<polyline class="series" data-series="(\w+)"[^>]*points="([^"]+)"', dom)
    assert {name for name, _ in lines} >= {"score", "best"}
    assert all(len(points.split()) >= 2 for _, points in lines)
    assert dom.count('class="point"') >= 4 and dom.count('class="bar"') == 3
    # the diff and the graph
    assert '<ins class="add">the sentiment of the review.</ins>' in dom
    assert 'class="graph"' in dom or 'class="dot"' in dom
    shot = tmp_path / "shot.png"
    res = _chromium([f"--screenshot={shot}", "--window-size=1000,1400", path.as_uri()], tmp_path)
    assert shot.is_file() and shot.stat().st_size > 10_000, res.stderr[-2000:]


def test_write_report_creates_folders(tmp_path: Path) -> None:
    out = write_report(tmp_path / "a" / "b" / "r.html", ReportData("t", [StepRecord(1, score=1.0)]))
    assert out.is_file() and shutil.disk_usage(out).total > 0
