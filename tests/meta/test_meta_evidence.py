"""The observed scores decide: the best round by paired comparison, the chance of improvement by
bootstrap once the history is long enough (the LLM before), and the prompts show the noise."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

import pytest
from meta_helpers import Case, Knobs, Script, closeness, toy_task

from optimizers.meta import MetaOptimizer
from optimizers.meta.evidence import MIN_TRIALS, BestRound, compare_rounds, history_estimate
from optimizers.meta.records import RoundRecord, Trial
from trace_opt.llm import Cache, use_cache

CASES = [Case("a", 0), Case("b", 1), Case("c", 2)]  # x=0 scores 0, -1, -2; x=9 scores -9, -8, -7


def meta(script: Script, cases: list[Case], **kw: Any) -> MetaOptimizer[Case, Knobs]:
    return MetaOptimizer(toy_task, closeness, Knobs(0), cases, llm=script.llm, **kw)


def test_the_default_asks_the_llm_until_the_history_is_long_enough_then_uses_the_bootstrap() -> None:
    assert len(CASES) == MIN_TRIALS
    script = Script(suggest=[{"x": 9}], estimate=[0.97])  # the LLM would always say "go on"
    result = meta(script, CASES, min_rounds=1, min_improvement_probability=0.3).optimize()
    first, second = result.rounds
    assert first.estimate_source == "llm" and first.estimate is not None and first.estimate.probability == 0.97
    # round 1 is worse on every case: the best (a tie, 1/2) and round 1 (0) -> 1/4, below 0.3
    assert second.estimate_source == "history" and second.estimate is not None
    assert second.estimate.probability == pytest.approx(0.25) and "bootstrap" in second.estimate.reasoning
    assert script.count("estimate_improvement") == 1
    assert result.stop_reason == "low_improvement_probability"


def test_too_few_task_scores_keep_the_llm_as_the_source() -> None:
    script = Script(suggest=[{"x": 9}], estimate=[0.97])
    result = meta(script, CASES[:2], min_rounds=1, max_rounds=4).optimize()  # 2 task scores per round
    assert [r.estimate_source for r in result.rounds[:-1]] == ["llm"] * 3
    assert script.count("estimate_improvement") == 3 and result.stop_reason == "max_rounds"
    assert "fewer than 3 task scores" in script.prompts["estimate_improvement"][-1]


def test_explicit_llm_and_history_still_force_their_source() -> None:
    asked = Script(suggest=[{"x": 9}], estimate=[0.97])
    by_llm = meta(asked, CASES, estimate="llm", min_rounds=1, max_rounds=3).optimize()
    assert [r.estimate_source for r in by_llm.rounds[:-1]] == ["llm", "llm"]
    assert [r.estimate.probability for r in by_llm.rounds[:-1] if r.estimate] == [0.97, 0.97]
    assert by_llm.stop_reason == "max_rounds"
    quiet = Script(suggest=[{"x": 9}], estimate=[0.97])
    by_history = meta(quiet, CASES, estimate="history", min_rounds=1, max_rounds=3).optimize()
    assert quiet.count("estimate_improvement") == 0
    assert [r.estimate_source for r in by_history.rounds[:-1]] == ["history", "history"]
    assert by_history.rounds[0].estimate is not None and by_history.rounds[0].estimate.probability == 0.5


# one lucky case: the same on five of six cases, right on one more (P(higher) = 1 - (5/6)^6 ~ 0.67)
TABLE = {0: [0, 1, 0, 1, 0, 1], 1: [0, 1, 0, 1, 1, 1], 2: [1, 1, 1, 1, 1, 1]}
SIX = [Case(str(i), i) for i in range(6)]


def table_score(case: Case, x: int) -> float:
    return float(TABLE[x][case.target])


def noisy(script: Script, **kw: Any) -> MetaOptimizer[Case, Knobs]:
    return MetaOptimizer(toy_task, table_score, Knobs(0), SIX, llm=script.llm, estimate="llm", **kw)


def test_a_round_higher_by_luck_does_not_become_the_best(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="optimizers.meta"):
        result = noisy(Script(suggest=[{"x": 1}, {"x": 2}], estimate=[1.0]), max_rounds=2).optimize()
    lucky = result.rounds[1]
    assert lucky.score > result.rounds[0].score  # a higher mean ...
    assert result.best_round == 0 and result.best_hyperparameters == Knobs(0)  # ... is not enough
    assert lucky.comparison is not None and lucky.comparison["against"] == 0 and not lucky.comparison["accepted"]
    assert lucky.comparison["paired"] and lucky.comparison["n"] == 6
    assert lucky.comparison["probability"] == pytest.approx(1 - (5 / 6) ** 6, abs=0.03)
    assert any("round 1 vs the best (round 0)" in m and "rejected" in m for m in caplog.messages)


def test_a_clear_improvement_becomes_the_best_and_confidence_zero_is_the_old_rule() -> None:
    clear = noisy(Script(suggest=[{"x": 2}], estimate=[1.0]), max_rounds=2).optimize()
    assert clear.best_round == 1 and clear.rounds[1].comparison is not None and clear.rounds[1].comparison["accepted"]
    with use_cache(Cache()):  # a fresh cache: the first run's round-0 suggestion (x=2) is cached
        naive = noisy(Script(suggest=[{"x": 1}], estimate=[1.0]), max_rounds=2, confidence=0).optimize()
    assert naive.best_round == 1 and naive.best_hyperparameters == Knobs(1)  # the higher mean wins
    with pytest.raises(ValueError, match="Invalid confidence: 2"):
        noisy(Script(), confidence=2)


def test_patience_counts_rounds_without_a_real_improvement() -> None:
    # the lucky round 1 is no new best, so two rounds after round 0 patience runs out
    result = noisy(Script(suggest=[{"x": 1}], estimate=[1.0]), max_rounds=10, patience=2).optimize()
    assert result.stop_reason == "patience" and len(result.rounds) == 3 and result.best_round == 0


def rnd(i: int, scores: list[float], params: list[Any]) -> RoundRecord[Any, Any]:
    return RoundRecord(i, None, params, [Trial(i, p, None, "", s) for p, s in zip(params, scores)], sum(scores) / len(scores))


def test_rounds_on_different_task_parameters_are_paired_on_the_shared_ones_or_compared_unpaired() -> None:
    best = rnd(0, [0.2, 0.4, 0.6], [Case("a", 0), Case("b", 1), Case("c", 2)])
    overlap = rnd(1, [0.9, 0.7, 0.5], [Case("z", 9), Case("c", 2), Case("b", 1)])
    disjoint = rnd(2, [0.9, 0.8], [Case("y", 8), Case("z", 9)])
    shared = compare_rounds(overlap, best, 0.9)
    assert shared.paired and shared.n == 2 and shared.diff == pytest.approx(((0.7 - 0.6) + (0.5 - 0.4)) / 2)
    apart = compare_rounds(disjoint, best, 0.9)
    assert not apart.paired and apart.n == 5 and apart.diff == pytest.approx(0.85 - 0.4)


def test_best_round_rejudges_a_replaced_list_and_history_estimate_defaults_to_it() -> None:
    params = list(range(6))
    base, lucky = rnd(0, TABLE[0], params), rnd(1, TABLE[1], params)
    judge = BestRound(0.9, logger=None)
    assert judge.update([base, lucky]) is base
    assert judge.update([lucky]) is lucky  # a different list: judged again from its start
    # the best is round 0 (not the lucky round 1), so round 1 counts its P(higher), round 0 a half
    p = history_estimate([base, lucky], 2).probability
    assert p == pytest.approx((0.5 + compare_rounds(lucky, base, 0).probability + compare_rounds(lucky, base, 0).ties / 2) / 2)


def test_the_prompts_show_each_round_s_noise_and_the_bootstrap_chance() -> None:
    script = Script(suggest=[{"x": 9}], estimate=[0.97])
    meta(script, CASES, estimate="llm", min_rounds=1, max_rounds=3).optimize()
    reflect = script.prompts["reflect"][3]  # round 1's first reflection
    assert "round 1: score -8.000 ± 0.577 [" in reflect and "vs the best (round 0): mean diff -7.000 over 3 paired" in reflect
    assert "P(higher mean) 0.00" in reflect
    estimate = script.prompts["estimate_improvement"][-1]
    assert "round 0: score -1.000 ± 0.577 [" in estimate and "round 1: score -8.000 ± 0.577" in estimate
    assert "bootstrap chance that a round like these beats the best: 0.25" in estimate
    recent = json.loads(script.prompts["suggest"][-1].split("\nrecent = ", 1)[1].split("\n", 1)[0])
    assert recent[0]["score_se"] == pytest.approx(0.5774) and len(recent[0]["score_ci"]) == 2


def test_the_prompts_are_deterministic_so_a_rerun_is_served_from_the_cache() -> None:
    runs = []
    for _ in range(2):
        with use_cache(Cache()):
            script = Script(suggest=[{"x": 9}, {"x": 1}], estimate=[0.97])
            meta(script, CASES, estimate="llm", min_rounds=1, max_rounds=3).optimize()
            runs.append(dict(script.prompts))
    assert runs[0] == runs[1] and len(runs[0]["estimate_improvement"]) == 2
    again = Script(suggest=[{"x": 9}, {"x": 1}], estimate=[0.97])
    with use_cache(Cache()):
        meta(Script(suggest=[{"x": 9}, {"x": 1}], estimate=[0.97]), CASES, estimate="llm", min_rounds=1, max_rounds=3).optimize()
        result = meta(again, CASES, estimate="llm", min_rounds=1, max_rounds=3).optimize()
    assert sum(again.count(s) for s in list(again.prompts)) == 0 and len(result.rounds) == 3  # every prompt was a hit


GOLDEN = Path(__file__).parent / "golden" / "estimate_improvement.txt"


def test_golden_estimate_prompt() -> None:
    """The whole estimate prompt with its statistics; after an intended change regenerate it with
    ``UPDATE_GOLDEN=1 python -m pytest tests/meta/test_meta_evidence.py`` and review the diff."""
    script = Script(suggest=[{"x": 9}, {"x": 1}], estimate=[0.97])
    meta(script, CASES, estimate="llm", min_rounds=1, max_rounds=3).optimize()
    text = script.prompts["estimate_improvement"][-1]
    if os.environ.get("UPDATE_GOLDEN"):
        GOLDEN.write_text(text, encoding="utf-8")
    assert text == GOLDEN.read_text(encoding="utf-8"), "the estimate prompt changed: UPDATE_GOLDEN=1 and review the diff"
