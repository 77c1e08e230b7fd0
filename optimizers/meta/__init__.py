"""Meta-optimisation: tune the hyperparameters of a task (a model, a temperature, an inner
optimizer's memory size and prompt budget...) from runs of that task, with an LLM reflecting
on each run and suggesting the next settings.

>>> from dataclasses import dataclass
>>> from optimizers.meta import MetaOptimizer
>>> @dataclass
... class Settings:
...     memory_size: int
...     temperature: float
>>> meta = MetaOptimizer(lambda task, h: ..., lambda task, result: 1.0, Settings(0, 0.7), ["task"])
>>> sorted(meta.steps)
['estimate_improvement', 'reflect', 'suggest', 'summarize']

- ``optimizer``: ``MetaOptimizer`` (alias ``HyperparameterOptimizer``), the loop and its stopping rules.
- ``steps``: the LLM steps as ``llm_function`` stubs (their docstrings are the prompts).
- ``records``: the generic dataclasses they read and write, and what is recorded.
- ``trials``: running and scoring the task.
- ``evidence``: what the task scores say -- the best round by paired comparison, and the
  bootstrap chance of improvement (and when it is used instead of the LLM's estimate).
"""

from __future__ import annotations

from .optimizer import HyperparameterOptimizer, MetaOptimizer
from .records import ImprovementEstimate, MetaResult, Reflection, RoundRecord, RoundView, Suggestion, Trial

__all__ = [
    "HyperparameterOptimizer",
    "ImprovementEstimate",
    "MetaOptimizer",
    "MetaResult",
    "Reflection",
    "RoundRecord",
    "RoundView",
    "Suggestion",
    "Trial",
]
