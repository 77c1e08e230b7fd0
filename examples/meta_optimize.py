"""Tune an OptoPrime training run's hyperparameters with the meta-optimiser.

    python examples/meta_optimize.py                      # offline: scripted stand-in models
    python examples/meta_optimize.py --llm openai/gpt-4o-mini
    python examples/meta_optimize.py --store runs.db      # keep every round, run and version

The task: OptoPrime trains a number ``x`` towards a hidden target from feedback that only says
"increase" or "decrease", for a few steps; the score is minus the final distance. How well
that goes depends on OptoPrime's settings -- ``memory_size`` (can it see its past tries?),
``max_prompt_tokens`` (is there room in the prompt to show them?) and the ``temperature`` of
its model -- which is what ``MetaOptimizer`` tunes. Each round runs the task on two targets,
reflects on both runs, estimates whether another round can still help, and picks the next
settings; the best ones are returned with their scores.

Offline, two stand-ins play the models. ``inner_model`` is OptoPrime's: it bisects when the
prompt's memory shows past tries on both sides of the target, otherwise it steps, and it
wobbles in proportion to the temperature. ``meta_model`` is the meta-optimiser's: it reads the
rounds in its prompt and changes one setting at a time.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import random
import re
from dataclasses import dataclass
from typing import Any

import trace_opt as trace
from optimizers import OptoPrime
from optimizers.meta import MetaOptimizer, MetaResult
from trace_opt.llm import FunctionLLM, resolve
from trace_opt.store import Store


@dataclass
class TrainingSettings:
    """Settings of one OptoPrime training run."""

    memory_size: int = 0
    max_prompt_tokens: int = 1000
    temperature: float = 1.0

    def __post_init__(self) -> None:
        if self.memory_size < 0 or self.memory_size > 20:
            raise ValueError(f"memory_size must be in [0, 20], got {self.memory_size}")
        budget = OptoPrime.hyperparameters["max_prompt_tokens"]  # OptoPrime's own rule for it
        if not budget.ok(self.max_prompt_tokens):
            raise ValueError(f"max_prompt_tokens must be {budget.help.split(': ')[-1]}, got {self.max_prompt_tokens}")
        if not 0.0 <= self.temperature <= 2.0:
            raise ValueError(f"temperature must be in [0, 2], got {self.temperature}")


@dataclass
class Problem:
    """One training run: the hidden target and how many optimizer steps it gets."""

    target: float
    steps: int


def train_number(problem: Problem, settings: TrainingSettings, llm: Any) -> float:
    """The task: train ``x`` towards ``problem.target`` with OptoPrime configured by ``settings``."""
    x = trace.node(0.0, trainable=True, name="x", description="the number to tune")
    opt = OptoPrime(
        [x], llm=llm, memory_size=settings.memory_size, max_prompt_tokens=settings.max_prompt_tokens,
        llm_params={"temperature": settings.temperature}, objective="Change x to make the loss as small as possible.",
    )  # fmt: skip
    for _ in range(problem.steps):
        gap = x.data - problem.target
        if abs(gap) < 1e-3:
            break
        opt.zero_feedback()
        opt.backward(x * 1.0, f"The loss is {gap * gap:.4f}; {'decrease' if gap > 0 else 'increase'} x.", score=-gap * gap)
        opt.step()
    return float(x.data)


def closeness(problem: Problem, x: float) -> tuple[float, str]:
    gap = abs(x - problem.target)
    return -gap, f"x ended at {x:.3f}, {gap:.3f} away from the target"


# -- the offline stand-in models ---------------------------------------------------------------


def inner_model(messages: list[dict[str, Any]], temperature: float = 0.0, **params: Any) -> str:
    prompt = messages[-1]["content"]
    name, value = re.search(r"^\(float\) (x_\d+) = (\S+)$", prompt, re.M).groups()  # type: ignore[union-attr]
    now = prompt.split("#Feedback\n")[1].split("\n")[0]
    tried = [(float(v), fb) for v, fb in re.findall(r'"x_\d+": ([-\d.e]+)\}, "feedback": "([^"]*)"', prompt)]
    tried.append((float(value), now))
    below = [v for v, fb in tried if "increase" in fb]
    above = [v for v, fb in tried if "decrease" in fb]
    if below and above:  # bracketed: bisect
        low, high = max(below), min(above)
        guess, scale = (low + high) / 2, high - low
    else:  # no bracket visible: double the step for each past try it can see (none: a fixed step)
        step = 2.0 ** len(tried)
        guess, scale = float(value) + (step if "increase" in now else -step), step
    guess += random.Random(len(prompt)).uniform(-0.5, 0.5) * temperature * scale
    return json.dumps({"reasoning": "bisect what the memory shows", "suggestion": {name: round(guess, 4)}})


def _argument(prompt: str, name: str) -> Any:
    found = re.search(rf"^{name} = (.*)$", prompt, re.M)
    return json.loads(found[1]) if found else None


def meta_model(messages: list[dict[str, Any]], **params: Any) -> str:
    prompt = messages[-1]["content"]
    step = re.search(r"^def (\w+)\(", prompt, re.M)[1]  # type: ignore[index]
    if step == "reflect":
        trial = _argument(prompt, "trial")
        h = trial["hyperparameters"]
        change = ("memory_size is 0: the optimizer never sees its past tries" if h["memory_size"] == 0
                  else "the temperature makes the steps wobble" if h["temperature"] > 0.1
                  else "the prompt budget may cut the memory" if h["max_prompt_tokens"] < 2000
                  else "nothing obvious left")  # fmt: skip
        return json.dumps({
            "feedback": trial["feedback"] or trial["error"], "evaluation": f"score {trial['score']:.3f}",
            "suggested_changes": change, "suggested_hyperparameters": h,
            "missing_hyperparameters": ["initial_value"] if trial["score"] < -1 else [],
        })  # fmt: skip
    if step == "suggest":
        h = dict(_argument(prompt, "current"))
        if h["memory_size"] == 0:
            h["memory_size"], why = 6, "let the optimizer see its past tries"
        elif h["temperature"] > 0.1:
            h["temperature"], why = 0.0, "stop the wobble"
        else:
            h["max_prompt_tokens"], why = 4000, "make room for the whole memory"
        return json.dumps({"reasoning": why, "hyperparameters": h})
    if step == "summarize":
        rounds = _argument(prompt, "rounds")
        return json.dumps(" ".join(f"{r['hyperparameters']} scored {r['score']:.3f}." for r in rounds))
    recent = _argument(prompt, "recent")  # estimate_improvement: did the last change help?
    gained = len(recent) > 1 and recent[-1]["score"] > max(r["score"] for r in recent[:-1]) + 0.01
    p = 0.6 if gained else 0.05
    return json.dumps({"probability": p, "reasoning": "the last change helped" if gained else "no progress"})


# -- the program ---------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> MetaResult[Problem, TrainingSettings]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--llm", help="a backend for both models ('local', a litellm model...); default: stand-ins")
    parser.add_argument("--store", default=":memory:", help="a Store file to keep rounds, runs and versions in")
    parser.add_argument("--rounds", type=int, default=6)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    inner = resolve(args.llm) if args.llm else FunctionLLM(inner_model, name="optoprime-stand-in")
    meta_llm = resolve(args.llm) if args.llm else FunctionLLM(meta_model, name="meta-stand-in")
    if not args.llm:
        print("note: a scripted stand-in (FunctionLLM) plays the model, offline; its answers are written in this file, not learned -- pass --llm local or --llm openai/gpt-4o-mini for a real model")
    store = Store(args.store)

    meta = MetaOptimizer(
        lambda problem, settings: train_number(problem, settings, inner), closeness,
        TrainingSettings(), [Problem(target=7.3, steps=8), Problem(target=-2.6, steps=8)],
        description="OptoPrime trains a number towards a hidden target from increase/decrease feedback.",
        llm=meta_llm, max_rounds=args.rounds, target_score=0.0, store=store, name="train_number",
    )  # fmt: skip
    result = meta.optimize()
    for r in result.rounds:
        print(f"round {r.index}: {r.hyperparameters}  score {r.score:.4f}  "
              f"p(improve)={'-' if r.estimate is None else f'{r.estimate.probability:.2f}'}")  # fmt: skip
    print(f"stopped: {result.stop_reason}; {result.usage['calls']} LLM calls")
    print(f"best: {result.best_hyperparameters} score {result.best_score:.4f} (round {result.best_round})")
    if result.missing_hyperparameters:
        print(f"the reflections asked for: {result.missing_hyperparameters}")
    versions = store.history(store.ref("params/meta/train_number"))
    print(f"{len(versions)} hyperparameter versions in the store; latest: {versions[0].message!r}")
    assert math.isfinite(result.best_score)
    return result


if __name__ == "__main__":
    main()
