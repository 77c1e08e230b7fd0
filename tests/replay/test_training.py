"""A recorded training run replays step for step: same parameters, zero provider calls."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

import trace_opt as trace
from trace_opt.llm import FunctionLLM, generate_text, use_cache
from trace_opt.replay import record
from trace_opt.store import Store

ASKED: list[str] = []


def _model(messages: Any, **params: Any) -> str:
    ASKED.append(messages[-1]["content"])
    return f"reply {len(ASKED)}"


LLM = FunctionLLM(_model, name="trainer")


class Agent(trace.Module):
    def __init__(self) -> None:
        self.prompt = trace.node("Answer briefly.", trainable=True)


def train(agent: Agent, store: Store, steps: int = 3) -> dict[str, Any]:
    """A hand-rolled optimizer loop: forward, ask for a better prompt, update, commit."""
    for step in range(steps):
        answer = generate_text(agent.prompt, llm=LLM, temperature=1.0)
        better = generate_text(f"Improve {agent.prompt.data!r}; it produced {answer.data!r}", llm=LLM)
        agent.prompt._set(f"{agent.prompt.data} [{better.data}]")
        store.commit_parameters(agent, f"step {step}", name=f"agent-{id(agent)}")
    return agent.state_dict()


@pytest.fixture(autouse=True)
def _no_cache() -> Iterator[None]:
    ASKED.clear()
    with use_cache(None):
        yield


def test_training_replays_with_zero_provider_calls() -> None:
    store = Store()
    first = Agent()
    with record(store) as run:
        trained = train(first, store)
    asked = len(ASKED)
    assert asked == 6 and [c.name for c in run.calls] == ["generate_text"] * 6

    second = Agent()
    again = run.replay(train, second, store)
    assert len(ASKED) == asked  # every LLM answer came from the record
    assert again.output == trained == second.state_dict()
    history = [v.state() for v in store.history(f"agent-{id(first)}")]
    replayed = [v.state() for v in store.history(f"agent-{id(second)}")]
    assert replayed == history and len(history) == 3


def test_rewinding_a_training_run_reruns_only_the_last_step() -> None:
    store = Store()
    with record(store) as run:
        trained = train(Agent(), store)
    asked = len(ASKED)
    again = run.rewind(2).replay(train, Agent(), store)  # the last step's two LLM calls run again
    assert len(ASKED) == asked + 2
    assert again.output != trained  # the new replies changed the last update
    assert again.output["prompt"].startswith(trained["prompt"].rsplit(" [", 1)[0])
