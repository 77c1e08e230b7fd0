"""With a store: every round is a recorded run, a committed object, and a hyperparameter version."""

from __future__ import annotations

from meta_helpers import Case, Knobs, Script, closeness, toy_task

from optimizers.meta import MetaOptimizer
from trace_opt.replay import Run
from trace_opt.store import Store


def test_rounds_runs_and_versions_are_recorded() -> None:
    store = Store()
    script = Script(suggest=[{"x": 2}, {"x": 3}], estimate=[1.0])
    opt = MetaOptimizer(toy_task, closeness, Knobs(0), [Case("hit", 3)], llm=script.llm, max_rounds=3, store=store)
    result = opt.optimize()
    assert len(result.rounds) == 3

    first = result.rounds[0]
    saved = store.get(first.refs["round"])
    assert saved["task"] == "toy_task" and saved["meta_round"]["hyperparameters"] == {"x": 0, "temperature": 0.5}
    assert saved["meta_round"]["suggestion"]["hyperparameters"] == {"x": 2, "temperature": 0.5}
    assert store.ref("meta/toy_task/round-2") is not None

    ref = store.ref("params/meta/toy_task")
    assert ref is not None
    history = store.history(ref)
    assert [v.message for v in history] == ["round 2: score 0", "round 1: score -1", "round 0: score -3"]
    assert history[0].state() == {"x": 3, "temperature": 0.5}

    run = Run.load(store, first.run_id)
    names = [c.name for c in run.calls]
    assert names[0] == "toy_task" and "reflect" in names
    assert first.trials[0].run_id == first.run_id == opt.runs[0].id


def test_a_round_replays_from_its_record() -> None:
    script = Script(estimate=[1.0])
    opt = MetaOptimizer(toy_task, closeness, Knobs(0), [Case("hit", 3)], llm=script.llm, max_rounds=1, store=Store())
    opt.optimize()
    asked = script.count("reflect")
    again = opt.runs[0].replay()
    assert [c.replayed for c in again.calls] == [True, True]
    assert script.count("reflect") == asked  # the reflection came from the record, not the LLM
