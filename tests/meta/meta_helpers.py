"""A scripted meta-LLM: answers each LLM step from its own script, and remembers the prompts."""

from __future__ import annotations

import json
import re
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from trace_opt.llm import FunctionLLM


@dataclass
class Knobs:
    """Hyperparameters of the toy task."""

    x: int
    temperature: float = 0.5

    def __post_init__(self) -> None:
        if not 0.0 <= self.temperature <= 2.0:
            raise ValueError(f"temperature must be in [0, 2], got {self.temperature}")


@dataclass
class Case:
    name: str
    target: int


STEPS = ("reflect", "suggest", "summarize", "estimate_improvement")


class Script:
    """``suggest``: hyperparameter dicts in order; ``estimate``: probabilities in order (last repeats)."""

    def __init__(self, suggest: list[Any] | None = None, estimate: list[float] | None = None,
                 missing: list[str] | None = None) -> None:  # fmt: skip
        self.suggest = list(suggest or [])
        self.estimate = list(estimate or [0.9])
        self.missing = missing or []
        self.prompts: dict[str, list[str]] = defaultdict(list)
        self.llm = FunctionLLM(self, name="meta-script")

    def step_of(self, prompt: str) -> str:
        found = re.search(r"^def (\w+)\(", prompt, re.M)
        assert found and found[1] in STEPS, prompt[:200]
        return found[1]

    def __call__(self, messages: list[dict[str, str]], **params: Any) -> str:
        prompt = messages[1]["content"]
        step = self.step_of(prompt)
        self.prompts[step].append(prompt)
        n = len(self.prompts[step]) - 1
        if step == "reflect":
            trial = json.loads(re.search(r"^trial = (.*)$", prompt, re.M)[1])  # type: ignore[index]
            return json.dumps({
                "feedback": f"scored {trial['score']}", "evaluation": "could be better",
                "suggested_changes": "move x towards the target", "suggested_hyperparameters": trial["hyperparameters"],
                "missing_hyperparameters": self.missing,
            })  # fmt: skip
        if step == "suggest":
            item = self.suggest[min(n, len(self.suggest) - 1)] if self.suggest else {"x": n + 1}
            return item if isinstance(item, str) else json.dumps({"reasoning": f"try {item}", "hyperparameters": item})
        if step == "summarize":
            return json.dumps(f"summary #{n + 1}")
        return json.dumps({"probability": self.estimate[min(n, len(self.estimate) - 1)], "reasoning": "scripted"})

    def count(self, step: str) -> int:
        return len(self.prompts[step])


def closeness(case: Case, result: int) -> tuple[float, str]:
    """Score of the toy task: 0 when x hits the target, lower the further away."""
    return -abs(result - case.target), f"off by {result - case.target}"


def toy_task(case: Case, knobs: Knobs) -> int:
    return knobs.x
