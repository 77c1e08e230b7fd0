"""``train(restore_best=True)`` keeps new parameters only when a paired comparison on the same
examples says they are better: a candidate that is lucky on one example no longer wins."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

import trace_opt as trace
from optimizers import OptoPrime, train
from trace_opt.llm import FunctionLLM

# per-example scores: 1 is right on one example more than 0 (luck on six), 2 on three more
SCORES = {0: [1, 1, 1, 0, 0, 0], 1: [1, 1, 1, 0, 0, 1], 2: [1, 1, 1, 1, 1, 1]}
VAL = [(i, None) for i in range(6)]


def judge(i: int, y: int, _: Any) -> tuple[float, str]:
    return float(SCORES[y][i]), "right" if SCORES[y][i] else "wrong"


def run(proposal: int, **kw: Any) -> tuple[trace.ParameterNode[int], Any]:
    x = trace.node(0, trainable=True, name="x")
    llm = FunctionLLM(lambda m, **_: json.dumps({"reasoning": "", "suggestion": {"x": proposal}}))
    log = train(lambda _: x + 0, kw.pop("dataset", [(0, None)]), judge, OptoPrime([x], llm=llm), batch_size=kw.pop("batch_size", 1),
                shuffle=False, **kw)  # fmt: skip
    return x, log


def test_a_lucky_candidate_no_longer_replaces_the_best(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="optimizers.train"):
        x, log = run(1, valset=VAL)
    assert x.data == 0  # restored: one example of six is no evidence
    assert log[1]["score"] == pytest.approx(4 / 6) and log[0]["score"] == 0.5
    verdict = log[1]["comparison"]
    assert verdict["accepted"] is False and verdict["paired"] and verdict["n"] == 6
    assert verdict["diff"] == pytest.approx(1 / 6) and verdict["probability"] == pytest.approx(1 - (5 / 6) ** 6, abs=0.03)
    logged = [r.getMessage() for r in caplog.records if "vs the best" in r.getMessage()]
    assert len(logged) == 1 and "mean diff +0.167" in logged[0] and "rejected" in logged[0]
    naive, _ = run(1, valset=VAL, confidence=0)  # the old rule: a higher mean wins
    assert naive.data == 1


def test_a_real_improvement_is_kept() -> None:
    x, log = run(2, valset=VAL)
    verdict = log[1]["comparison"]
    assert x.data == 2 and log.best_score == 1.0
    assert verdict["accepted"] and verdict["diff"] == 0.5 and verdict["probability"] == pytest.approx(1 - 0.5**6, abs=0.01)


def test_every_evaluation_reports_its_standard_error_and_interval() -> None:
    _, log = run(1, valset=VAL)
    first = log[0]  # [1, 1, 1, 0, 0, 0]: sample variance 0.3, se sqrt(0.3 / 6)
    assert first["score_se"] == pytest.approx((0.3 / 6) ** 0.5) and first["score_n"] == 6
    low, high = first["score_ci"]
    assert 0 <= low < 0.5 < high <= 1
    assert all({"score_se", "score_ci", "score_n"} <= set(r) for r in log)


def test_without_a_valset_the_best_is_scored_on_the_same_batch() -> None:
    calls: list[tuple[int, int]] = []

    def counting(i: int, y: int, info: Any) -> tuple[float, str]:
        calls.append((y, i))
        return judge(i, y, info)

    x = trace.node(0, trainable=True, name="x")
    llm = FunctionLLM(lambda m, **_: json.dumps({"reasoning": "", "suggestion": {"x": 1}}))
    log = train(lambda _: x + 0, VAL, counting, OptoPrime([x], llm=llm), batch_size=6, epochs=2, shuffle=False)
    assert x.data == 0  # the lucky 1 was compared with 0 on the same six examples and rejected
    assert log[1]["comparison"]["paired"] and log[1]["comparison"]["n"] == 6 and not log[1]["comparison"]["accepted"]
    assert sorted(i for y, i in calls if y == 0) == sorted(list(range(6)) * 2)  # step 1, then as the incumbent


def test_the_run_report_shows_the_statistics_of_a_train_log() -> None:
    from trace_opt.report import ReportData, render_report, steps_from_log

    _, log = run(1, valset=VAL)
    page = render_report(ReportData("lucky", steps_from_log(log)))
    # step 1 scored [1, 1, 1, 0, 0, 1]: 0.667, standard error sqrt(4/15 / 6) = 0.211, over 6 examples
    row = f'<tr data-step="1"><td>1</td><td>0.667</td><td>0.211</td><td>{log[1]["score_ci"][0]:.3f}–{log[1]["score_ci"][1]:.3f}</td><td>6</td></tr>'
    assert row in page
    old = [{k: v for k, v in r.items() if not k.startswith("score_")} for r in log]  # a log from before
    assert "Evaluation statistics" not in render_report(ReportData("old", steps_from_log(old)))
