"""Every candidate is logged with its score; the best is restored, committed and remembered."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

import trace_opt as trace
from optimizers import GEPA, BeamSearch, Budget, OptoPrime, PrioritySearch, SearchLog, SearchTrainer, TrainLog, train
from optimizers.search import pareto_front
from trace_opt.errors import ReplyParseError
from trace_opt.llm import FunctionLLM, LLMResponse, LocalLLM
from trace_opt.store import Store, use_store

TRAINERS = [BeamSearch(k=3), PrioritySearch(k=3), GEPA(k=3)]


def guesser(bad_every: int = 0) -> FunctionLLM:
    def fn(messages: list[dict[str, Any]], sample_id: Any = None, **kw: Any) -> str:
        if bad_every and sample_id is not None and sample_id % bad_every == 0:
            return "I do not know."
        return json.dumps({"reasoning": "", "suggestion": {"x": random.Random(sample_id).randint(0, 20)}})

    return FunctionLLM(fn)


def fb(_: Any, y: int, want: int) -> tuple[float, str]:
    return -abs(y - want), f"{y}, want {want}"


@pytest.mark.parametrize("trainer", [BeamSearch(k=3, beam_width=1), PrioritySearch(k=3), GEPA(k=3)], ids=repr)
def test_every_candidate_is_logged_and_the_best_is_restored(trainer: SearchTrainer) -> None:
    x = trace.node(0, trainable=True, name="x")
    opt = OptoPrime([x], llm=guesser(bad_every=5), max_reasks=0)
    log = trainer.train(lambda _: x * 1, [(None, 13), (None, 15)], fb, opt, steps=4, batch_size=2)
    assert isinstance(log, SearchLog) and isinstance(log, TrainLog)
    statuses = {r["status"] for r in log.candidates}
    assert statuses <= {"initial", "scored", "duplicate", "unchanged", "unreadable"} and "unreadable" in statuses
    assert [r["id"] for r in log.candidates] == list(range(len(log.candidates)))
    assert len(log.candidates) == 1 + trainer.k * 4
    for r in log.candidates:
        assert (r["status"] in ("initial", "scored")) == isinstance(r["score"], float), r
    best = log.candidates.scored()[0]
    assert x.data == best["values"][x.py_name] == log.best_values[x.py_name]
    assert log.best_score == best.get("val_score", best["score"])
    assert "x" in str(log.candidates).splitlines()[0] or "values" in str(log.candidates)


@pytest.mark.parametrize("trainer", TRAINERS, ids=repr)
def test_the_best_is_committed_to_the_store_whenever_it_improves(trainer: SearchTrainer) -> None:
    @trace.model
    class Agent:
        def __init__(self) -> None:
            self.x = trace.node(0, trainable=True, name="x")

        def __call__(self, _: Any) -> Any:
            return self.x * 1

    agent, store = Agent(), Store()
    with use_store(store):
        log = trainer.train(agent, [(None, 13)], fb, OptoPrime(agent.parameters(), llm=guesser()), steps=4)
    versions = store.history(agent)
    assert versions and versions[0].state() == {"x": agent.x.data}
    assert versions[0].message.startswith(type(trainer).__name__) and log.best_score == -abs(agent.x.data - 13)
    assert len(versions) == len({v.state()["x"] for v in versions})  # one version per improvement


def test_each_expansion_is_remembered_by_the_optimizer() -> None:
    x = trace.node(0, trainable=True, name="x")
    opt = OptoPrime([x], llm=guesser(), memory_size=10)
    BeamSearch(k=2, beam_width=2).train(lambda _: x * 1, [(None, 13)], fb, opt, steps=3)
    assert opt.step_count == len(opt.memory[0]) == 5  # 1 expansion, then 2 per step
    assert "want 13" in opt.memory[0][0]["feedback"] and opt.memory[0][0]["variables"] == {"0": 0}


def test_unreadable_replies_cost_calls_but_never_crash_the_search() -> None:
    x = trace.node(0, trainable=True, name="x")
    log = BeamSearch(k=2).train(lambda _: x * 1, [(None, 3)], fb,
                                OptoPrime([x], llm=FunctionLLM(lambda m, **kw: "no idea"), max_reasks=1), steps=2)  # fmt: skip
    # the search does not re-ask (max_reasks=0 by default): one call per unusable sample
    assert x.data == 0 and log.calls == 4 and {r["status"] for r in log.candidates[1:]} == {"unreadable"}
    assert "no usable reply" in log.candidates[1]["note"]
    assert all(r["note"].startswith("skipped: all 2 proposals failed (ReplyParseError") for r in log)
    assert BeamSearch(k=2, max_reasks=None).train(lambda _: x * 1, [(None, 3)], fb, OptoPrime(
        [x], llm=FunctionLLM(lambda m, **kw: "no idea"), max_reasks=1), steps=2).calls == 8  # the optimizer's re-asks
    assert not issubclass(ReplyParseError, KeyboardInterrupt)


def test_gepa_keeps_a_winner_per_example_on_its_pareto_front() -> None:
    x = trace.node(0, trainable=True, name="x")
    data = [(None, 3), (None, 5), (None, 8)]
    llm = FunctionLLM(lambda m, sample_id, **kw: json.dumps(
        {"reasoning": "", "suggestion": {"x": [3, 5, 8, 1][sample_id % 4]}}))  # fmt: skip
    log = GEPA(k=4).train(lambda _: x * 1, data, lambda _, y, w: float(y == w), OptoPrime([x], llm=llm), steps=3,
                          batch_size=1)  # fmt: skip
    assert sorted(v[x.py_name] for v in log.front.values()) == [3, 5, 8]
    # right on one example of three is no evidence of being better than the start (paired bootstrap)
    assert x.data == 0 and log.best_score == 0.0
    x._set(0)
    naive = GEPA(k=4).train(lambda _: x * 1, data, lambda _, y, w: float(y == w), OptoPrime([x], llm=llm), steps=3,
                            batch_size=1, confidence=0)  # fmt: skip
    assert x.data in (3, 5, 8) and naive.best_score == pytest.approx(1 / 3)


def test_pareto_front_keeps_per_example_winners_and_drops_dominated_ones() -> None:
    assert pareto_front({0: [1, 0], 1: [0, 1], 2: [0.5, 0.5]}) == {0: 1, 1: 1}
    assert pareto_front({0: [1, 1], 1: [1, 0], 2: [0, 1]}) == {0: 2}
    assert pareto_front({4: [1.0], 2: [1.0]}) == {2: 1}  # equal rows: the oldest stays
    assert pareto_front({}) == {}
    with pytest.raises(ValueError, match="Invalid scores"):
        pareto_front({0: [1], 1: [1, 2]})


def test_train_searches_by_default_on_the_embedded_model_only() -> None:
    class FakeLocal(LocalLLM):
        def _call(self, request: Any) -> LLMResponse:
            name = next(iter(request.constraint.schema["properties"]["suggestion"]["properties"]))
            return LLMResponse(text=json.dumps({"reasoning": "", "suggestion": {name: 13}}), model="fake")

    x = trace.node(0, trainable=True, name="x")
    log = train(lambda _: x * 1, [(None, 13)], fb, OptoPrime([x], llm=FakeLocal()))
    assert isinstance(log, SearchLog) and x.data == 13 and len(log.candidates) >= 2
    y = trace.node(0, trainable=True, name="y")
    log = train(lambda _: y * 1, [(None, 13)], fb, OptoPrime([y], llm=guesser()))
    assert not isinstance(log, SearchLog)
    z = trace.node(0, trainable=True, name="z")
    log = train(lambda _: z * 1, [(None, 13)], fb, OptoPrime([z], llm=guesser()), trainer=PrioritySearch(k=2))
    assert isinstance(log, SearchLog) and len(log.candidates) == 3
    with pytest.raises(ValueError, match="Invalid trainer: 'beam'"):
        train(lambda _: z * 1, [(None, 13)], fb, OptoPrime([z], llm=guesser()), trainer="beam")  # type: ignore[arg-type]


@pytest.mark.parametrize("make", [lambda: BeamSearch(k=0), lambda: BeamSearch(beam_width=0), lambda: GEPA(pareto_size=0),
                                  lambda: PrioritySearch(exploration=-1), lambda: BeamSearch(temperature=3),
                                  lambda: BeamSearch(verbatim=0), lambda: BeamSearch(max_feedback_tokens=10)])  # fmt: skip
def test_bad_options_are_refused(make: Any) -> None:
    with pytest.raises(ValueError, match="Invalid "):
        make()


def test_bad_train_arguments_are_refused_and_scores_are_required() -> None:
    x = trace.node(0, trainable=True, name="x")
    opt = OptoPrime([x], llm=guesser())
    with pytest.raises(ValueError, match="Invalid steps: 0"):
        BeamSearch().train(lambda _: x * 1, [(None, 1)], fb, opt, steps=0)
    with pytest.raises(TypeError, match="Invalid budget"):
        BeamSearch().train(lambda _: x * 1, [(None, 1)], fb, opt, budget=5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="Invalid optimizer"):
        BeamSearch().train(lambda _: x * 1, [(None, 1)], fb, object())  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="it has no score"):
        BeamSearch().train(lambda _: x * 1, [(None, 1)], lambda *a: "text only", opt)
    assert x.data == 0


def test_a_valset_decides_the_best() -> None:
    x = trace.node(0, trainable=True, name="x")
    log = BeamSearch(k=3).train(lambda _: x * 1, [(None, 10)], fb, OptoPrime([x], llm=guesser()), steps=3,
                                valset=[(None, 2)])  # fmt: skip
    vals = {r["values"][x.py_name]: r["val_score"] for r in log.candidates if "val_score" in r}
    assert x.data == max(vals, key=lambda v: vals[v]) and log.best_score == max(vals.values())


def test_callback_patience_and_checkpoint() -> None:
    x = trace.node(0, trainable=True, name="x")
    seen: list[dict[str, Any]] = []
    log = BeamSearch(k=2).train(lambda _: x * 1, [(None, 13)], fb, OptoPrime([x], llm=guesser()), steps=9,
                                callback=lambda r: seen.append(r) or len(seen) < 2)  # fmt: skip
    assert len(log) == len(seen) == 2 and log.stop == "stopped by callback"
    y = trace.node(0, trainable=True, name="y")
    same = FunctionLLM(lambda m, **kw: json.dumps({"reasoning": "", "suggestion": {}}))
    log = PrioritySearch(k=2).train(lambda _: y * 1, [(None, 13)], fb, OptoPrime([y], llm=same), steps=9, patience=2)
    assert log.stop.startswith("early stop") and len(log) == 3
    with pytest.raises(ValueError, match="Invalid checkpoint"):
        BeamSearch().train(lambda _: y * 1, [(None, 13)], fb, OptoPrime([y], llm=same), checkpoint="x.json")
