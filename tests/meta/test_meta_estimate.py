"""The meta-optimizer's chance of improvement (``estimate="history"``) comes from the observed
trial scores by bootstrap, not from counting new bests; rounds carry their score's SE and interval."""

from __future__ import annotations

from typing import Any

import pytest
from meta_helpers import Case, Knobs, Script, closeness, toy_task

from optimizers.meta import MetaOptimizer
from optimizers.meta.records import RoundRecord, Trial
from optimizers.meta.stopping import history_estimate
from trace_opt.stats import attached
from trace_opt.store import Store


def rnd(i: int, scores: list[float], params: list[Any] | None = None) -> RoundRecord[Any, Any]:
    params = params if params is not None else list(range(len(scores)))
    trials = [Trial(i, p, None, "", s) for p, s in zip(params, scores)]
    return RoundRecord(i, None, params, trials, sum(scores) / len(scores))


BEST = [0.62, 0.35, 0.81, 0.5, 0.44, 0.7]


def test_rounds_within_noise_of_the_best_keep_a_fair_chance() -> None:
    # neither history sets a new best after round 0, so counting new bests rates them alike
    close = [rnd(0, BEST)] + [rnd(i, [s + d for s, d in zip(BEST, shift)]) for i, shift in
                              enumerate([[-0.05, 0.04, -0.03, 0.02, -0.04, 0.03], [0.03, -0.05, 0.02, -0.03, 0.04, -0.04]], 1)]  # fmt: skip
    short = [rnd(0, BEST)] + [rnd(i, [s - 0.3 for s in BEST]) for i in (1, 2)]
    assert max(r.score for r in close[1:]) < close[0].score and max(r.score for r in short[1:]) < short[0].score
    p_close, p_short = history_estimate(close, 3).probability, history_estimate(short, 3).probability
    assert p_short == pytest.approx(0.5 / 3)  # only the best itself (a tie) counts
    assert p_close > 0.35 and p_close - p_short > 0.2
    assert "bootstrap" in history_estimate(close, 3).reasoning


def test_the_best_out_of_the_window_and_all_short_gives_almost_no_chance() -> None:
    rounds = [rnd(0, BEST)] + [rnd(i, [s - 0.3 for s in BEST]) for i in (1, 2, 3)]
    assert history_estimate(rounds, 2).probability == pytest.approx(0.0)


def test_rounds_on_other_task_parameters_are_compared_unpaired() -> None:
    # the same scores on other examples: unpaired, the difference of means is within noise
    best = rnd(0, [0.9, 0.1, 0.8, 0.2])
    other = rnd(1, [0.85, 0.05, 0.75, 0.15], params=["a", "b", "c", "d"])
    paired_twin = rnd(1, [0.85, 0.05, 0.75, 0.15])
    unpaired = history_estimate([best, other], 2).probability
    paired = history_estimate([best, paired_twin], 2).probability
    assert paired == pytest.approx(0.25)  # always 0.05 lower on the same examples: no chance, plus the best's half
    assert unpaired > paired + 0.1


def test_a_run_reports_each_round_with_its_interval() -> None:
    store = Store()
    cases = [Case("a", 0), Case("b", 1), Case("c", 2)]
    opt = MetaOptimizer(toy_task, closeness, Knobs(0), cases, llm=Script(suggest=[{"x": 9}]).llm, estimate="history",
                        max_rounds=8, store=store)  # fmt: skip
    result = opt.optimize()
    first = result.rounds[0]  # scores 0, -1, -2: variance 1
    assert first.score_se == pytest.approx(1 / 3**0.5) and first.score_ci is not None
    assert first.score_ci[0] <= first.score <= first.score_ci[1]
    # x=9 is worse on every case: the chance falls as the best leaves the window of 4 rounds
    assert result.stop_reason == "low_improvement_probability" and len(result.rounds) == 5
    assert [r.estimate.probability for r in result.rounds[1:] if r.estimate] == pytest.approx([1 / 4, 1 / 6, 1 / 8, 0])
    note = attached(store, first.refs["hyperparameters"])
    assert note is not None and note["score"] == -1.0 and note["score_n"] == 3
