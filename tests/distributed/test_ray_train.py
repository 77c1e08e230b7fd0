"""``optimizers.train(..., executor="ray")``: forward passes and judging run as Ray tasks, the
optimizer's calls stay in the driver, and the run is the same as on threads -- the same prompts
reach the optimizer's model and the same final parameters come out."""

from __future__ import annotations

import pytest

import json
from typing import Any

import trace_opt as trace
from trace_opt.llm import FunctionLLM, use_cache

DATA = [("paris", "PARIS!"), ("rome", "ROME!"), ("oslo", "OSLO!"), ("lima", "LIMA!")]


class Shouter(trace.Module):
    def __init__(self) -> None:
        self.suffix = trace.node("?", trainable=True, name="suffix")

    @trace.bundle()
    def shout(self, word, suffix):
        """Upper-case the word and end it with the suffix."""
        return word.upper() + suffix

    def forward(self, word: Any) -> Any:
        return self.shout(word, self.suffix)


def judge(word: Any, output: Any, want: str) -> tuple[float, str]:
    return (1.0, "correct") if output == want else (0.0, f"expected {want!r}, got {output!r}")


def run(executor: str, trainer: Any = "step", direct: bool = False) -> tuple[str, list[str]]:
    """A training run; ``direct``: the search trainer's own ``train`` is called, not ``train(...)``."""
    from optimizers import OptoPrime, train

    prompts: list[str] = []

    def optimizer_model(messages: list[dict[str, str]], sample_id: int | None = None, **params: Any) -> str:
        prompts.append(messages[-1]["content"])
        good = sample_id is None or sample_id % 2 == 1  # beam search: every other candidate
        value = "!" if len(prompts) > 1 and good else "?!"  # wrong first tries: steps differ
        return json.dumps({"reasoning": "match the expected ending", "suggestion": {"suffix": value}})

    agent = Shouter()
    optimizer = OptoPrime(agent.parameters(), llm=FunctionLLM(optimizer_model))
    with use_cache(None):
        if direct:
            trainer.train(agent.forward, DATA, judge, optimizer, epochs=2, batch_size=2, seed=3, executor=executor)
        else:
            train(agent.forward, DATA, judge, optimizer, epochs=2, batch_size=2, seed=3, trainer=trainer,
                  executor=executor)  # fmt: skip
    return agent.suffix.data, prompts


def test_train_on_ray_matches_threads(local_ray: Any) -> None:
    from trace_opt.distributed import last_tasks

    before = last_tasks()
    thread_final, thread_prompts = run("thread")
    assert last_tasks() is before  # threads leave no task records
    ray_final, ray_prompts = run("ray")
    assert last_tasks() is not before and all(r.pid > 0 for r in last_tasks())  # the examples ran as Ray tasks
    assert ray_final == thread_final == "!"
    assert len(ray_prompts) >= 2 and ray_prompts == thread_prompts
    assert "expected 'PARIS!'" in "".join(ray_prompts) or "expected 'ROME!'" in "".join(ray_prompts)


def test_beam_search_on_ray_matches_threads(local_ray: Any) -> None:
    from optimizers import BeamSearch

    from trace_opt.distributed import last_tasks

    thread_final, thread_prompts = run("thread", BeamSearch(k=2, beam_width=1))
    before = last_tasks()
    ray_final, ray_prompts = run("ray", BeamSearch(k=2, beam_width=1))
    assert last_tasks() is not before and last_tasks()  # candidate scoring ran as Ray tasks
    assert ray_final == thread_final and sorted(ray_prompts) == sorted(thread_prompts)


@pytest.mark.parametrize("name", ["BeamSearch", "PrioritySearch"])
def test_search_trainer_takes_the_executor_directly(local_ray: Any, name: str) -> None:
    import optimizers

    from trace_opt.distributed import last_tasks

    def trainer() -> Any:
        return getattr(optimizers, name)(k=2)

    thread_final, thread_prompts = run("thread", trainer(), direct=True)
    before = last_tasks()
    ray_final, ray_prompts = run("ray", trainer(), direct=True)
    assert last_tasks() is not before and all(r.pid > 0 for r in last_tasks())  # scoring ran as Ray tasks
    assert ray_final == thread_final and sorted(ray_prompts) == sorted(thread_prompts)
    with pytest.raises(ValueError, match="Invalid executor"):
        run("spark", trainer(), direct=True)
