"""``trace-opt history`` shows the score a training run kept with each version -- mean ±
standard error, 95% interval, n -- and versions from older runs, which have none, still list."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

import trace_opt as trace
from optimizers import BeamSearch, OptoPrime, train
from trace_opt.cli import main
from trace_opt.llm import FunctionLLM
from trace_opt.store import Store, use_store

SCORES = {0: [1, 1, 1, 0, 0, 0], 2: [1, 1, 1, 1, 1, 1]}
DATA = [(i, None) for i in range(6)]
SCORE_LINE = re.compile(r"^      score (\d\.\d{3}) ± (\d\.\d{3}) \[(\d\.\d{3}), (\d\.\d{3})\] n=(\d+) on the (.+)$", re.M)


def judge(i: int, y: int, _: Any) -> float:
    return float(SCORES[y][i])


def llm() -> FunctionLLM:
    return FunctionLLM(lambda m, **_: json.dumps({"reasoning": "", "suggestion": {"x": 2}}))


def history(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    assert main(["history", *argv]) == 0
    return capsys.readouterr().out


def test_history_shows_the_scores_of_a_search(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    x = trace.node(0, trainable=True, name="x")
    with Store(tmp_path / "s.db") as store, use_store(store):
        BeamSearch(k=1, beam_width=1).train(lambda _: x + 0, DATA, judge, OptoPrime([x], llm=llm()), steps=1, batch_size=6)
    out = history(capsys, "--store", str(tmp_path / "s.db"))
    found = SCORE_LINE.findall(out)
    assert found == [("1.000", "0.000", "1.000", "1.000", "6", "examples seen")], out
    doc = json.loads(history(capsys, "--store", str(tmp_path / "s.db"), "--json"))
    scores = doc[0]["versions"][0]["scores"]
    assert scores["score"] == 1.0 and scores["score_se"] == 0.0 and scores["score_ci"] == [1.0, 1.0]
    assert scores["score_n"] == 6 and scores["step"] == 1


def test_history_shows_the_scores_of_train_with_a_valset(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    x = trace.node(0, trainable=True, name="x")
    with Store(tmp_path / "s.db") as store, use_store(store):
        log = train(lambda _: x + 0, DATA[:1], judge, OptoPrime([x], llm=llm()), batch_size=1, valset=DATA)
    assert x.data == 2 and log[-1]["comparison"]["accepted"]
    out = history(capsys, "--store", str(tmp_path / "s.db"))
    assert SCORE_LINE.findall(out) == [("1.000", "0.000", "1.000", "1.000", "6", "valset")], out


def test_versions_from_older_runs_list_without_scores(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with Store(tmp_path / "old.db") as store:
        store.commit_parameters({"prompt": "v1"}, "initial", name="agent")
    out = history(capsys, "--store", str(tmp_path / "old.db"))
    assert "initial" in out and "score" not in out
    doc = json.loads(history(capsys, "--store", str(tmp_path / "old.db"), "--json"))
    assert doc[0]["versions"][0]["scores"] is None
