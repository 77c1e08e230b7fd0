"""Files made to be shared -- the demo's history.json, steps.txt, report.html and store -- and
report pages hold no secret, even when the optimizer's replies quote one."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest

from trace_opt.llm import FunctionLLM
from trace_opt.report import ReportData, StepRecord, render_report

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from test_demo import load_demo, scripted  # noqa: E402

KEY = "sk-shared-files-0123456789abcdef"


def test_a_report_page_holds_no_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    step = StepRecord(1, score=0.5, values={"p": f"use {KEY}"}, feedback=[f"saw {KEY}"], reasoning=f"because {KEY}")
    page = render_report(ReportData(f"run with {KEY}", [step], initial={"p": "a"}, final={"p": f"use {KEY}"},
                                    meta={"key": KEY}))  # fmt: skip
    assert KEY not in page and page.count("[redacted]") >= 4


def test_the_demo_files_hold_no_secret(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: Any) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", KEY)

    quoted: list[str] = []

    def leaky(messages: list[dict[str, Any]], sample_id: Any = None, **params: Any) -> str:
        reply = scripted(messages, sample_id=sample_id, **params)
        if reply.startswith("{"):  # the optimizer writes the key into the instruction it proposes
            doc = json.loads(reply)
            doc["suggestion"] = {k: f"{v} Key: {os.environ['OPENAI_API_KEY']}" for k, v in doc["suggestion"].items()}
            reply = json.dumps(doc)
            quoted.append(reply)
        return reply

    summary = load_demo().main(["--runs", str(tmp_path / "runs"), "--run-id", "r1", "--steps", "2", "--k", "3"],
                               llm=FunctionLLM(leaky, name="leaky"))  # fmt: skip
    capsys.readouterr()
    assert quoted and KEY in summary["final"]["instruction"]  # the trained parameter holds it ...
    folder = tmp_path / "runs" / "r1"
    files = {p.name: p.read_bytes() for p in folder.rglob("*") if p.is_file()}
    assert {"history.json", "steps.txt", "report.html", "store.db"} <= set(files)
    assert [name for name, data in files.items() if KEY.encode() in data] == []  # ... no file does
    assert all(b"[redacted]" in files[name] for name in ("history.json", "report.html", "store.db"))


def test_graph_pictures_hold_no_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("graphviz")
    import trace_opt as trace

    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    x = trace.node(f"a long value that ends with the key {KEY}", trainable=True)
    y = x + "!"
    y.backward(f"feedback quoting {KEY}")
    source = trace.render(y, max_label=200).source
    assert KEY not in source and "[redacted]" in source and x.data.endswith(KEY)
