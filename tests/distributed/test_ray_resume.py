"""A training run on Ray with a progress file, stopped by Ctrl-C and started again, ends where an
uninterrupted run ends, and the calls its Ray tasks had answered are not paid for again."""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path
from typing import Any

import pytest

import trace_opt as trace
from trace_opt.llm import Cache, FunctionLLM, get_llm, use, use_cache

DATA = [("paris", "PARIS!"), ("rome", "ROME!"), ("oslo", "OSLO!"), ("lima", "LIMA!")]
NEXT = {"?": "?!", "?!": "!", "!": "!"}  # the optimizer's model walks towards "!"


class Caller(trace.Module):
    def __init__(self) -> None:
        self.suffix = trace.node("?", trainable=True, name="suffix")

    @trace.bundle()
    def shout(self, word, suffix):
        """Ask the model for the word in capitals, ending with the suffix."""
        return get_llm().complete(f"capitalise {word} and end with {suffix}").text

    def forward(self, word: Any) -> Any:
        return self.shout(word, self.suffix)


def capitals(log: str, messages: list[dict[str, str]], **params: Any) -> str:
    """The model the Ray tasks call; it logs each call it answers (workers share the file)."""
    word, suffix = re.fullmatch(r"capitalise (\w+) and end with (\S+)", messages[-1]["content"]).groups()
    with open(log, "a") as f:
        f.write(messages[-1]["content"] + "\n")
    return word.upper() + suffix


def judge(word: Any, output: Any, want: str) -> tuple[float, str]:
    return (1.0, "correct") if output == want else (0.0, f"expected {want!r}, got {output!r}")


def run(work: Path, interrupt_at: int | None = None) -> tuple[str, list[tuple[Any, ...]], list[str], Any]:
    """Train a fresh agent (as a new process would) in ``work``; the optimizer's model raises
    KeyboardInterrupt at its ``interrupt_at``-th call, as Ctrl-C would."""
    from optimizers import OptoPrime, train

    asked: list[str] = []

    def optimizer_model(messages: list[dict[str, str]], **params: Any) -> str:
        prompt = messages[-1]["content"]
        asked.append(prompt)
        if len(asked) == interrupt_at:
            raise KeyboardInterrupt
        name, value = re.search(r"^\(str\) (suffix_\d+) = (\S+)$", prompt, re.M).groups()  # type: ignore[union-attr]
        return json.dumps({"reasoning": "end as expected", "suggestion": {name: NEXT[value]}})

    agent = Caller()
    tasks_llm = FunctionLLM(functools.partial(capitals, str(work / "calls.log")), name="capitals")
    with use(tasks_llm), use_cache(Cache(work / "cache")):
        log = train(agent.forward, DATA, judge, OptoPrime(agent.parameters(), llm=FunctionLLM(optimizer_model, name="opt")),
                    epochs=2, batch_size=2, seed=3, progress=work / "progress.json", restore_best=False,
                    executor="ray")  # fmt: skip
    return agent.suffix.data, [(r["step"], r.get("score"), r["best"]) for r in log], asked, log


def test_interrupted_ray_run_resumes_to_the_uninterrupted_state(local_ray: Any, tmp_path: Path) -> None:
    from trace_opt.distributed import last_tasks

    reference, work = tmp_path / "reference", tmp_path / "work"
    reference.mkdir(), work.mkdir()
    want_suffix, want_steps, reference_asked, _ = run(reference)
    assert all(r.pid > 0 for r in last_tasks())  # the forward passes ran as Ray tasks
    assert want_suffix == "!" and len(want_steps) >= 3 and len(reference_asked) >= 3

    with pytest.raises(KeyboardInterrupt, match="resum"):
        run(work, interrupt_at=3)  # Ctrl-C during step 3's optimizer call: steps 1-2 are saved
    assert json.loads((work / "progress.json").read_text())["step"] == 2
    answered = set((work / "calls.log").read_text().splitlines())
    assert answered  # the tasks of steps 1-3 called the model
    (work / "calls.log").write_text("")

    suffix, steps, asked, _ = run(work)
    assert (suffix, steps) == (want_suffix, want_steps)  # the same parameters and steps
    assert asked == reference_asked[2:]  # the optimizer starts again at step 3, with the same prompts
    asked_again = set((work / "calls.log").read_text().splitlines())
    assert not asked_again & answered, "a call a Ray task had answered was paid for again"
