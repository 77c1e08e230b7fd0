"""Search trainers keep a candidate only when a paired comparison on the same examples shows it
better: a candidate that is lucky on one example of six no longer wins a step."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

import trace_opt as trace
from optimizers import GEPA, BeamSearch, OptoPrime, PrioritySearch, SearchTrainer
from trace_opt.llm import FunctionLLM

SCORES = {0: [1, 1, 1, 0, 0, 0], 1: [1, 1, 1, 0, 0, 1], 2: [1, 1, 1, 1, 1, 1]}
DATA = [(i, None) for i in range(6)]


def judge(i: int, y: int, _: Any) -> tuple[float, str]:
    return float(SCORES[y][i]), "right" if SCORES[y][i] else "wrong"


def proposing(*values: int) -> FunctionLLM:
    """Sample i proposes ``values[i]``."""
    return FunctionLLM(lambda m, sample_id=0, **_: json.dumps({"reasoning": "", "suggestion": {"x": values[sample_id]}}))


@pytest.mark.parametrize("trainer", [BeamSearch(k=1, beam_width=1), PrioritySearch(k=1), GEPA(k=1)],
                         ids=["beam", "priority", "gepa"])  # fmt: skip
def test_a_lucky_candidate_no_longer_wins(trainer: SearchTrainer, caplog: pytest.LogCaptureFixture) -> None:
    x = trace.node(0, trainable=True, name="x")
    with caplog.at_level(logging.INFO, logger="optimizers.search"):
        log = trainer.train(lambda _: x + 0, DATA, judge, OptoPrime([x], llm=proposing(1)), steps=1, batch_size=6)
    assert x.data == 0 and log.best_score == 0.5
    assert any("candidate 1 vs" in r.getMessage() and "rejected" in r.getMessage() for r in caplog.records)
    x._set(0)
    naive = trainer.train(lambda _: x + 0, DATA, judge, OptoPrime([x], llm=proposing(1)), steps=1, batch_size=6,
                          confidence=0)  # fmt: skip
    assert x.data == 1 and naive.best_score == pytest.approx(4 / 6)


def test_a_real_improvement_wins_and_the_records_carry_the_statistics() -> None:
    x = trace.node(0, trainable=True, name="x")
    log = BeamSearch(k=2, beam_width=1).train(lambda _: x + 0, DATA, judge, OptoPrime([x], llm=proposing(1, 2)),
                                              steps=1, batch_size=6)  # fmt: skip
    assert x.data == 2 and log.best_score == 1.0
    lucky, real = (next(r for r in log.candidates if r["values"] == {x.py_name: v}) for v in (1, 2))
    assert not lucky["comparison"]["accepted"] and real["comparison"]["accepted"]
    assert real["comparison"]["confidence"] == 0.9 and real["comparison"]["n"] == 6
    assert real["comparison"]["probability"] >= 0.9
    step = log[-1]
    assert step["score_n"] == 6 and step["score_se"] == 0.0 and step["score_ci"] == [1.0, 1.0]
    initial = log.candidates[0]  # [1, 1, 1, 0, 0, 0]: sample variance 0.3
    assert initial["score_se"] == pytest.approx((0.3 / 6) ** 0.5)


def test_the_best_is_scored_on_the_candidates_examples_when_they_share_none() -> None:
    class TwoBatches(SearchTrainer):
        """Scores the start on examples 0-2 and a candidate on 3-5, then compares them."""

        def _search(self, run: Any, steps: int) -> None:
            run.step += 1
            root = run.root()
            run.run_batch(root, [0, 1, 2], traced=False)
            run.consider(root)
            other = run.new((2,), root, "scored", None)
            run.run_batch(other, [3, 4, 5], traced=False)
            run.consider(other)
            run.end_step("two batches")

    x = trace.node(0, trainable=True, name="x")
    log = TwoBatches().train(lambda _: x + 0, DATA, judge, OptoPrime([x], llm=proposing(0)))
    start = log.candidates[0]
    assert start["n"] == 6  # scored on 3-5 too, so both were judged on the same examples
    assert x.data == 2  # [1, 1, 1] against [0, 0, 0] on examples 3-5
