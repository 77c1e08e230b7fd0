"""The demo (``examples/demo.py``) end to end, offline: a scripted FunctionLLM plays both the
classifier and the optimizer, in a temporary folder.

The scripted classifier obeys an instruction that says "negative" and otherwise labels by
keywords; the scripted optimizer proposes a sentiment instruction. So the search must find
the better instruction, keep it, commit it, and write every file the README promises.
"""

from __future__ import annotations

import ast
import json
import re
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from trace_opt.llm import FunctionLLM
from script_loader import load_script  # tests/ is on sys.path (rootdir conftest)

ROOT = Path(__file__).resolve().parents[1]
GOOD = "Label the sentiment of the review: positive or negative."
NEGATIVE_WORDS = ("terrible", "awful", "broke", "waste", "cold")


def load_demo() -> ModuleType:
    return load_script("examples/demo.py", "trace_opt_demo")


def scripted(messages: list[dict[str, Any]], sample_id: Any = None, **params: Any) -> str:
    text = messages[-1]["content"]
    if "#Variables" in text:  # the optimizer: propose a sentiment instruction for the variable shown
        name = re.search(r"^\(str\) (\w+) = ", text, re.M).group(1)  # type: ignore[union-attr]
        value = GOOD if sample_id in (None, 0, 1) else f"Say something ({sample_id})."
        menu = re.search(r"must be one of (\[.*\])$", text, re.M)
        if menu:  # a Choice-constrained instruction: pick an option about sentiment
            value = next(o for o in ast.literal_eval(menu.group(1)) if "sentiment" in o)
        return json.dumps({"reasoning": "the feedback shows the answers ignore the review", "suggestion": {name: value}})
    instruction, _, review = text.partition("\n\nReview: ")
    if "negative" in instruction.lower() and "positive" not in instruction.lower():
        return "negative"
    if "sentiment" not in instruction.lower():
        return "positive"
    return "negative" if any(w in review.lower() for w in NEGATIVE_WORDS) else "positive"


@pytest.fixture()
def demo() -> ModuleType:
    return load_demo()


def test_demo_trains_and_writes_every_file(demo: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    llm = FunctionLLM(scripted, name="demo-script")
    argv = ["--runs", str(tmp_path / "runs"), "--run-id", "r1", "--steps", "2", "--k", "3"]
    summary = demo.main(argv, llm=llm)
    out = capsys.readouterr().out
    assert summary["score_before"] == 0.5 and summary["score_after"] == 1.0
    assert summary["final"]["instruction"] == GOOD and summary["initial"]["instruction"] == demo.START
    folder = tmp_path / "runs" / "r1"
    for name in ["store.db", "history.json", "steps.txt", "report.html"]:
        assert (folder / name).is_file(), name
    assert (folder / "graph.svg").is_file() or (folder / "graph.dot").is_file()
    # the per-step table: a header and one row per step that ran, with what changed
    header = next(line for line in out.splitlines() if line.startswith("step"))
    assert all(col in header for col in ["score", "best", "tokens", "time", "what changed"])
    rows = [line for line in out.splitlines() if re.match(r"^1\s+\d\.\d{3}", line)]
    assert rows and "instruction -> 'Label the sentiment" in rows[0]
    assert "score 0.500 -> 1.000" in out and f"instruction = {GOOD!r}" in out
    assert "TRACE_OPT_LLM=" not in out or "openai" in out
    history = json.loads((folder / "history.json").read_text())
    assert [v["message"] for v in history["versions"]][0] == "initial"
    assert history["versions"][-1]["values"]["instruction"] == GOOD
    assert history["steps"][0]["feedback"] and history["steps"][0]["tried"]
    assert (folder / "steps.txt").read_text().splitlines()[0].startswith("step")
    page = (folder / "report.html").read_text()
    assert 'id="score-chart"' in page and '<ins class="add">' in page


def test_on_a_menu_the_instruction_stays_one_of_the_options(demo: ModuleType, tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    argv = ["--runs", str(tmp_path), "--run-id", "m", "--steps", "1", "--instructions", "menu"]
    summary = demo.main(argv, llm=FunctionLLM(scripted, name="demo-script"))
    assert summary["final"]["instruction"] in demo.MENU and summary["score_after"] == 1.0
    assert "instruction picked among 6" in capsys.readouterr().out


def test_a_second_run_comes_from_the_cache_and_matches(demo: ModuleType, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    calls: list[int] = []

    def counting(messages: list[dict[str, Any]], sample_id: Any = None, **params: Any) -> str:
        calls.append(1)
        return scripted(messages, sample_id, **params)

    runs = str(tmp_path / "runs")
    first = demo.main(["--runs", runs, "--run-id", "a", "--steps", "1"], llm=FunctionLLM(counting, name="demo-script"))
    n = len(calls)
    capsys.readouterr()
    second = demo.main(["--runs", runs, "--run-id", "b", "--steps", "1"], llm=FunctionLLM(counting, name="demo-script"))
    out = capsys.readouterr().out
    assert n > 0 and len(calls) == n, "the second run called the backend"
    assert second["final"] == first["final"] and second["score_after"] == first["score_after"]
    assert second["cache"]["misses"] == 0 and second["cache"]["hits"] > 0
    assert "everything came from the cache" in out


def test_the_cli_reads_what_the_demo_wrote(demo: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from trace_opt.cli import main as cli

    runs = tmp_path / "runs"
    demo.main(["--runs", str(runs), "--run-id", "r", "--steps", "1"], llm=FunctionLLM(scripted, name="demo-script"))
    capsys.readouterr()
    assert cli(["runs", "--store", str(runs), "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [r["name"] for r in listed] == ["after training", "before training"]
    assert cli(["history", "--store", str(runs), "--diff"]) == 0
    assert "+" + GOOD in capsys.readouterr().out


def test_a_failed_demo_leaves_no_run_folder_and_its_hint_fits_the_error(
    demo: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from trace_opt.llm import LocalLLM

    code = demo.cli(["--runs", str(tmp_path / "runs"), "--run-id", "r1"], llm=LocalLLM(tmp_path / "missing.gguf"))
    out, err = capsys.readouterr()
    assert code == 1
    assert not (tmp_path / "runs" / "r1").exists()  # no empty runs/demo-* folder left behind
    assert len(err.strip().splitlines()) == 1 and "missing.gguf" in err
    assert "API key" not in err and "OPENAI_API_KEY" not in err  # a missing model file is not a key problem
    assert "cold run takes about half a minute" in out and "few minutes" not in out


def test_a_missing_key_hint_names_the_key(demo: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from trace_opt.errors import AuthenticationError

    def no_key(messages: Any, **params: Any) -> str:
        raise AuthenticationError("openai/gpt-4o-mini: no API key: set OPENAI_API_KEY")

    code = demo.cli(["--runs", str(tmp_path / "runs"), "--run-id", "r1"], llm=FunctionLLM(no_key, name="nokey"))
    err = capsys.readouterr().err
    assert code == 1 and "set OPENAI_API_KEY" in err and "export OPENAI_API_KEY" in err
    assert not (tmp_path / "runs" / "r1").exists()
