"""The meta loop: rounds, reflections, suggestions, stopping rules, budgets and best settings."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest
from meta_helpers import Case, Knobs, Script, closeness, toy_task

from optimizers.meta import HyperparameterOptimizer, MetaOptimizer, Reflection, Suggestion
from trace_opt.llm import DummyLLM

CASE = Case("hit", target=3)


def meta(script: Script, **kw: Any) -> MetaOptimizer[Case, Knobs]:
    return MetaOptimizer(toy_task, closeness, kw.pop("start", Knobs(0)), kw.pop("cases", [CASE]), llm=script.llm, **kw)


def test_stops_on_low_improvement_probability_and_returns_the_best_settings() -> None:
    script = Script(suggest=[{"x": 3}, {"x": 5}], estimate=[0.9, 0.05])
    result = meta(script, min_rounds=2).optimize()
    assert result.stop_reason == "low_improvement_probability"
    assert [r.hyperparameters.x for r in result.rounds] == [0, 3, 5]
    assert result.best_hyperparameters == Knobs(3) and result.best_score == 0.0 and result.best_round == 1
    assert result.best_scores == [0.0]
    assert [r.estimate.probability if r.estimate else None for r in result.rounds] == [None, 0.9, 0.05]
    assert script.count("estimate_improvement") == 2 and script.count("suggest") == 2
    assert result.rounds[0].suggestion is not None and result.rounds[0].suggestion.hyperparameters == Knobs(3)


def test_each_run_is_reflected_on_with_typed_suggestions() -> None:
    script = Script(estimate=[0.0], missing=["seed", "batch size"])
    result = meta(script, min_rounds=1, cases=[CASE, Case("far", 10)]).optimize()
    (only,) = result.rounds
    assert [t.task_parameters.name for t in only.trials] == ["hit", "far"] and [t.score for t in only.trials] == [-3.0, -10.0]
    assert only.score == -6.5 and only.trials[1].feedback == "off by -10"
    assert len(only.reflections) == 2 and all(isinstance(r, Reflection) for r in only.reflections)
    assert isinstance(only.reflections[0].suggested_hyperparameters, Knobs)
    assert result.missing_hyperparameters == {"seed": 2, "batch size": 2}
    assert '"name": "far"' in script.prompts["reflect"][1] and "-> Reflection[Knobs]:" in script.prompts["reflect"][1]


def test_max_rounds() -> None:
    result = meta(Script(estimate=[1.0]), max_rounds=3).optimize()
    assert result.stop_reason == "max_rounds" and len(result.rounds) == 3


def test_target_score_and_patience() -> None:
    assert meta(Script(suggest=[{"x": 3}]), target_score=0.0).optimize().stop_reason == "target_score"
    stuck = meta(Script(suggest=[{"x": 9}], estimate=[1.0]), patience=2, max_rounds=10).optimize()
    assert stuck.stop_reason == "patience" and len(stuck.rounds) == 3 and stuck.best_hyperparameters == Knobs(0)


def test_history_estimate_needs_no_llm_call() -> None:
    script = Script(suggest=[{"x": 9}])  # never better than the start
    result = meta(script, estimate="history", min_improvement_probability=0.2, max_rounds=10).optimize()
    assert script.count("estimate_improvement") == 0
    assert result.stop_reason == "low_improvement_probability"
    assert result.rounds[-1].estimate is not None and result.rounds[-1].estimate.probability < 0.2


def test_call_budget_is_never_exceeded() -> None:
    for budget in range(0, 12):
        script = Script(estimate=[1.0])
        opt = meta(script, max_llm_calls=budget, max_rounds=20)
        result = opt.optimize()
        calls = sum(script.count(s) for s in ("reflect", "suggest", "summarize", "estimate_improvement"))
        assert calls <= budget and result.usage["calls"] == calls
        assert result.stop_reason == "budget"


def test_the_task_s_own_llm_calls_count() -> None:
    inner = DummyLLM(default="ok")

    def task(case: Case, knobs: Knobs) -> int:
        inner.complete(f"work on {case.name}", sample_id=knobs.x)
        return knobs.x

    script = Script(estimate=[1.0])
    result = MetaOptimizer(task, closeness, Knobs(0), [CASE], llm=script.llm, max_llm_calls=7, max_rounds=20).optimize()
    assert result.usage["calls"] <= 7 and len(inner.calls) >= 1
    assert result.usage["calls"] == len(inner.calls) + sum(script.count(s) for s in script.prompts)


def test_token_budget() -> None:
    script = Script(estimate=[1.0])
    result = meta(script, max_tokens=6000, max_rounds=50).optimize()
    assert result.stop_reason == "budget" and result.usage["tokens"] <= 6000 and len(result.rounds) >= 1


def test_old_rounds_are_summarised() -> None:
    script = Script(estimate=[1.0])
    opt = meta(script, history_window=2, max_rounds=5)
    result = opt.optimize()
    assert script.count("summarize") == 3 and result.summary == "summary #3"
    last = script.prompts["suggest"][-1]
    assert 'summary = "summary #2"' in last
    recent = json.loads(last.split("\nrecent = ", 1)[1].split("\n", 1)[0])
    assert [r["index"] for r in recent] == [2, 3]


def test_nothing_is_summarised_within_the_window() -> None:
    script = Script(estimate=[1.0])
    result = meta(script, history_window=4, max_rounds=4).optimize()
    assert script.count("summarize") == 0 and result.summary == ""
    recent = json.loads(script.prompts["suggest"][-1].split("\nrecent = ", 1)[1].split("\n", 1)[0])
    assert [r["index"] for r in recent] == [0, 1, 2]


def test_invalid_suggestions_are_re_asked_with_the_reason() -> None:
    bad = json.dumps({"reasoning": "hot", "hyperparameters": {"x": 1, "temperature": 9.0}})
    script = Script(suggest=[bad, {"x": 3, "temperature": 0.1}], estimate=[1.0])
    result = meta(script, max_rounds=2).optimize()
    assert [r.hyperparameters for r in result.rounds] == [Knobs(0), Knobs(3, 0.1)]
    assert script.count("suggest") == 2  # the bad reply, then the re-ask inside the same step


def test_no_usable_suggestion_stops() -> None:
    script = Script(suggest=["not json"], estimate=[1.0])
    result = meta(script, max_rounds=5).optimize()
    assert result.stop_reason == "no_suggestion" and len(result.rounds) == 1


def test_failing_tasks_and_scorers_are_feedback() -> None:
    def task(case: Case, knobs: Knobs) -> int:
        if knobs.x == 0:
            raise RuntimeError("x must not be zero")
        return knobs.x

    def score(case: Case, result: int) -> float:
        if result == 1:
            raise ValueError("cannot score 1")
        return float(result)

    script = Script(suggest=[{"x": 1}, {"x": 2}], estimate=[1.0])
    result = MetaOptimizer(task, score, Knobs(0), [CASE], llm=script.llm, max_rounds=3, failure_score=-99).optimize()
    t0, t1, t2 = (r.trials[0] for r in result.rounds)
    assert t0.score == -99 and "RuntimeError" in (t0.error or "") and "x must not be zero" in (t0.error or "")
    assert t1.score == -99 and "scoring function raised" in (t1.error or "")
    assert t2.score == 2.0 and result.best_hyperparameters == Knobs(2)
    assert "x must not be zero" in script.prompts["reflect"][0]


def test_task_parameters_can_be_tuned() -> None:
    reply = json.dumps({"reasoning": "harder", "hyperparameters": {"x": 3}, "task_parameters": [{"name": "new", "target": 5}]})
    script = Script(suggest=[reply], estimate=[1.0])
    opt = meta(script, max_rounds=2, tune_task_parameters=True)
    result = opt.optimize()
    assert result.rounds[1].task_parameters == [Case("new", 5)]
    fixed = meta(Script(suggest=[reply], estimate=[1.0]), max_rounds=2)
    assert fixed.optimize().rounds[1].task_parameters == [CASE]


def test_propose_changes_nothing_update_adopts() -> None:
    script = Script(suggest=[{"x": 7}, {"x": 8}])
    opt = meta(script)
    opt.run_round()
    suggestion = opt.propose()
    assert isinstance(suggestion, Suggestion) and opt.hyperparameters == Knobs(0)
    opt.update(suggestion)
    assert opt.hyperparameters == Knobs(7) and opt.rounds[-1].suggestion is suggestion
    rec = opt.step()
    assert rec.index == 1 and opt.hyperparameters == Knobs(8) and opt.usage["calls"] == script.count("reflect") + 2


def test_the_meta_prompts_are_trainable_and_private() -> None:
    from optimizers.meta import steps

    opt = meta(Script())
    params = opt.parameters()
    assert len(params) == 4 and all(p.trainable for p in params)
    params[0]._set("Reflect briefly.")
    assert steps.reflect.instruction.data != "Reflect briefly."


@pytest.mark.parametrize(
    ("kw", "error", "message"),
    [
        ({"max_rounds": 0}, ValueError, "Invalid max_rounds: 0"),
        ({"max_llm_calls": -1}, ValueError, "Invalid max_llm_calls"),
        ({"min_improvement_probability": 2}, ValueError, "Invalid min_improvement_probability"),
        ({"estimate": "vibes"}, ValueError, "Invalid estimate"),
        ({"cases": []}, ValueError, "Invalid task_parameters: an empty list"),
        ({"start": {"x": 1}}, TypeError, "Invalid hyperparameters: a dict"),
        ({"store": "runs.db"}, TypeError, "Invalid store"),
    ],
)
def test_invalid_arguments(kw: dict[str, Any], error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        meta(Script(), **kw)


def test_alias() -> None:
    assert HyperparameterOptimizer is MetaOptimizer


class _Opaque:
    """A plain class: no JSON schema."""


@dataclass
class Plain:
    value: _Opaque


def test_hyperparameters_need_a_schema() -> None:
    with pytest.raises(TypeError, match="Invalid hyperparameters: a Plain"):
        MetaOptimizer(toy_task, closeness, Plain(1), [CASE])
