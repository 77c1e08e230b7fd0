"""The report agrees with the console: counts, times and names; graphs summarise all feedback
and fit a screen's width."""

from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path

import pytest

import trace_opt as trace
from trace_opt.llm import FunctionLLM
from trace_opt.replay import record
from trace_opt.report import ReportData, render_report, steps_from_log

ROOT = Path(__file__).resolve().parents[2]
LOG = [
    {"step": 0, "score": 0.5, "best": 0.5, "values": {"instruction": "Answer negative."}, "note": "before training"},
    {"step": 1, "score": 1.0, "best": 1.0, "tokens": 900, "seconds": 18.0,
     "values": {"instruction": "Label the sentiment."}, "note": "target score reached"},
]  # fmt: skip


def _cards(html: str) -> dict[str, str]:
    return dict(re.findall(r'<div class="muted">([^<]+)</div><div class="big">([^<]+)</div>', html))


def test_summary_counts_training_steps_and_the_whole_run_time() -> None:
    html = render_report(ReportData("run", steps_from_log(LOG), initial={"instruction": "Answer negative."},
                                    final={"instruction": "Label the sentiment."}, seconds=29.4))  # fmt: skip
    cards = _cards(html)
    assert cards["steps"] == "1"  # step 0 is the evaluation before training, not a step
    assert cards["time"] == "29 s"  # the whole run, as the console says, not the sum of step times
    subtitle = re.search(r'<p class="subtitle">([^<]*)</p>', html)
    assert subtitle is not None
    assert "score 0.500 → 1.000" in subtitle.group(1) and "1 step" in subtitle.group(1)
    assert "chart points" not in html and "additions" not in html  # no status line as a subtitle


def test_graph_boxes_summarise_every_feedback() -> None:
    x = trace.node("Answer negative.", trainable=True, name="instruction")
    outs = [x + f" {i}" for i in range(4)]
    for i, out in enumerate(outs):
        out.backward("Correct: fine." if i % 2 else f"Wrong: review {i} is positive.")
    source = trace.render(outs).source
    label = re.search(r'label="(instruction\w* \(trainable\)[^"]*)"', source).group(1)  # type: ignore[union-attr]
    assert "4 feedback" in label, label
    assert "2× Correct: fine." in label and "Wrong: review 0 is positive." in label and "Wrong: review 2" in label


@pytest.mark.skipif(shutil.which("dot") is None, reason="needs graphviz's dot (apt-get install graphviz)")
def test_a_run_with_many_calls_is_drawn_to_read_without_horizontal_scrolling(tmp_path: Path) -> None:
    from trace_opt.cli import main
    from trace_opt.store import Store

    step = trace.bundle()(lambda i: i + 1)
    store = Store(tmp_path / "store.db")
    with record(store):
        for i in range(30):
            step(i)
    store.close()
    out = tmp_path / "graph.svg"
    assert main(["graph", "latest", "--store", str(tmp_path / "store.db"), "-o", str(out)]) == 0
    width, height = (float(v) for v in re.search(r'<svg width="([\d.]+)pt" height="([\d.]+)pt"', out.read_text()).groups())  # type: ignore[union-attr]
    assert width <= 1000, (width, height)  # 30 calls side by side were a 3784-px strip


def test_demo_report_and_history_agree_with_the_console(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sys.path.insert(0, str(ROOT / "tests"))
    from test_demo import load_demo, scripted

    demo = load_demo()
    summary = demo.main(["--runs", str(tmp_path), "--run-id", "r1", "--steps", "3", "--k", "3"],
                        llm=FunctionLLM(scripted, name="agree"))  # fmt: skip
    console = capsys.readouterr().out
    html = (tmp_path / "r1" / "report.html").read_text()
    history = (tmp_path / "r1" / "history.json").read_text()
    stopped = re.search(r"stopped after step (\d+)", console)
    seconds = re.search(r"score [\d.]+ -> [\d.]+ in (\d+) s", console)
    assert stopped and seconds
    cards = _cards(html)
    assert cards["steps"] == stopped.group(1) == str(len(summary["steps"]))
    assert cards["time"] == f"{seconds.group(1)} s"
    names = set(summary["final"])
    for text in (html, history):  # the parameter is called what the console calls it, everywhere
        used = set(re.findall(r"instruction\w*", text))
        assert used <= names | {"instructions"}, used
