"""Budgets: a search stops within its calls, tokens, dollars and wall time -- never one call over."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest

import trace_opt as trace
from models import rng
from optimizers import GEPA, BeamSearch, Budget, OptoPrime, PrioritySearch, SearchTrainer, propose_k
from optimizers.search.budget import Clock
from trace_opt.errors import BudgetExceeded
from trace_opt.llm import FunctionLLM, generate_text, track_usage

TRAINERS = [BeamSearch(k=3), BeamSearch(k=2, beam_width=3), PrioritySearch(k=3, num_parents=2), GEPA(k=3)]


class Counting:
    """Random integer suggestions; counts every call that reaches the model."""

    def __init__(self) -> None:
        self.calls = 0
        self.lock = threading.Lock()

    def __call__(self, messages: list[dict[str, Any]], sample_id: Any = None, **kw: Any) -> str:
        prompt = messages[-1]["content"]
        with self.lock:
            self.calls += 1
        if "#Variables" not in prompt:  # the agent's own call
            return "ok"
        name = prompt.split("#Variables\n(int) ")[1].split(" ")[0]
        return json.dumps({"reasoning": "r" * 40, "suggestion": {name: rng(prompt, sample_id, self.calls).randint(0, 999)}})


def setup(agent_calls_llm: bool = False) -> tuple[Any, Any, Counting, OptoPrime]:
    model = Counting()
    llm = FunctionLLM(model, cost_per_token=(1e-6, 2e-6))
    x = trace.node(0, trainable=True, name="x")

    def agent(i: int) -> Any:
        if agent_calls_llm:
            generate_text("echo " + str(i), llm=llm, max_tokens=8)
        return x + i

    data = [(i, 500 + i) for i in range(5)]
    opt = OptoPrime([x], llm=llm, max_reasks=0, max_tokens=64)
    return agent, data, model, opt


def fb(i: int, y: int, want: int) -> tuple[float, str]:
    return -abs(y - want), f"got {y}, want {want}"


@pytest.mark.parametrize("trainer", TRAINERS, ids=repr)
@pytest.mark.parametrize("calls", [1, 4, 7, 13])
def test_call_budget_is_spent_exactly_never_one_over(trainer: SearchTrainer, calls: int) -> None:
    agent, data, model, opt = setup()
    log = trainer.train(agent, data, fb, opt, steps=50, batch_size=2, budget=Budget(calls=calls))
    assert model.calls == log.calls == calls
    assert log.stop.startswith("budget exhausted: call budget")


@pytest.mark.parametrize("trainer", TRAINERS, ids=repr)
def test_the_agents_own_calls_count_too(trainer: SearchTrainer) -> None:
    agent, data, model, opt = setup(agent_calls_llm=True)
    log = trainer.train(agent, data, fb, opt, steps=50, batch_size=2, budget=Budget(calls=9))
    assert model.calls == log.calls == 9


@pytest.mark.parametrize("trainer", TRAINERS, ids=repr)
def test_token_and_cost_budgets_hold(trainer: SearchTrainer) -> None:
    agent, data, _, opt = setup()
    with track_usage() as usage:
        trainer.train(agent, data, fb, opt, steps=50, batch_size=2, budget=Budget(tokens=3000))
    assert 0 < usage.total_tokens <= 3000
    agent, data, _, opt = setup()
    with track_usage() as usage:
        trainer.train(agent, data, fb, opt, steps=50, batch_size=2, budget=Budget(cost=0.004))
    assert 0 < usage.cost <= 0.004


def test_wall_time_budget_never_starts_work_it_cannot_finish() -> None:
    now = [0.0]

    def slow(messages: list[dict[str, Any]], sample_id: Any = None, **kw: Any) -> str:
        now[0] += 10.0  # every call takes 10 "seconds"
        return json.dumps({"reasoning": "", "suggestion": {"x": int(sample_id) + 1}})

    x = trace.node(0, trainable=True, name="x")
    log = BeamSearch(k=2).train(lambda _: x + 0, [(None, 100)], lambda _, y, w: -abs(y - w),
                                OptoPrime([x], llm=FunctionLLM(slow)), steps=50,
                                budget=Budget(seconds=35, clock=lambda: now[0]))  # fmt: skip
    assert now[0] <= 35 and log.calls == 3
    assert log.stop.startswith("budget exhausted: time budget of 35s")


def test_clock_checks_against_the_mean_duration() -> None:
    now = [0.0]
    clock = Clock(25, lambda: now[0])
    with clock.timed("propose"):
        now[0] += 10
    with clock.timed("propose"):
        now[0] += 10
    assert clock.expected("propose") == 10 and clock.expected("evaluate") == 0
    with pytest.raises(BudgetExceeded, match="time budget of 25s"):
        clock.check("propose")
    clock.check("evaluate")  # nothing known about evaluations yet: allowed


def test_propose_k_returns_what_the_budget_allowed() -> None:
    agent, data, model, opt = setup()
    opt.zero_feedback()
    opt.backward(agent(1), "too small", score=-1.0)
    with track_usage(max_calls=2):
        proposals = propose_k(opt, 5)
    assert len(proposals) == 2 and model.calls == 2
    with track_usage(max_calls=0):
        assert len(propose_k(opt, 3)) == 2  # samples 0 and 1 are cached: free
        with pytest.raises(BudgetExceeded):
            propose_k(opt, 3, first_sample=10)


@pytest.mark.parametrize("bad", [{"calls": -1}, {"tokens": 1.5}, {"cost": -0.1}, {"seconds": float("nan")},
                                 {"calls": True}])  # fmt: skip
def test_bad_budgets_are_refused(bad: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=f"Invalid {next(iter(bad))}"):
        Budget(**bad)
