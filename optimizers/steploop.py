"""One step of ``train``'s one-suggestion loop and the state it carries between steps.

Run a batch, send its feedback back, ``optimizer.step()``, score, keep the best (and
checkpoint it); ``train`` decides the order of batches, progress files and stopping.
"""

from __future__ import annotations

import copy
import logging
import math
import os
from collections.abc import Callable
from typing import Any

from trace_opt import Node, execution, stop_tracing
from trace_opt.errors import BudgetExceeded
from trace_opt.llm import track_usage

from .base import Optimizer
from .data import Example, Judge
from .data import examples as _examples
from .data import run_example as _run
from .failures import SKIPPABLE, skip_reason
from .observe import TrainingRun
from .trainlog import TrainLog

__all__ = ["StepLoop", "evaluate"]

log = logging.getLogger("optimizers.train")


def evaluate(
    agent: Callable[[Any], Any], dataset: Any, eval_fn: Judge, *, concurrency: int = 4, failure_score: float = 0.0
) -> float:
    """Mean score of ``eval_fn(input, output, info)`` over ``dataset``, without tracing.

    A forward that raises scores ``failure_score``.

    >>> evaluate(lambda x: x * 2, [(1, 2), (2, 5)], lambda x, y, want: float(y == want))
    0.5
    """
    examples = _examples(dataset, "dataset")
    with stop_tracing():
        results = execution.map(lambda ex: _run(agent, eval_fn, ex, failure_score)[1], examples, concurrency=concurrency)
    scores = [0.0 if s is None else s for s in results]
    return sum(scores) / len(scores)


class StepLoop:
    """The state of the one-suggestion loop and its steps: run a batch, step, score, keep the best."""

    def __init__(self, agent: Callable[[Any], Any], optimizer: Optimizer, feedback_fn: Judge, scorer: Judge, *,
                 checkpoint: str | os.PathLike[str] | None, concurrency: int, failure_score: float,
                 observers: TrainingRun) -> None:  # fmt: skip
        self.agent, self.optimizer, self.feedback_fn, self.scorer = agent, optimizer, feedback_fn, scorer
        self.observers = observers
        self.checkpoint, self.concurrency, self.failure_score = checkpoint, concurrency, failure_score
        self.params = optimizer.parameters
        self.history = TrainLog()
        self.best: dict[str, Any] = {"score": -math.inf, "values": self.snapshot()}
        self.done = self.stale = 0  # steps completed before a resume; evaluations without improvement
        self.step = self.saved = 0  # the step running; the last step in the progress file
        self.stop = ""

    def snapshot(self) -> list[Any]:
        return [copy.deepcopy(p.data) for p in self.params]

    def evaluate(self, data: list[Example]) -> float:
        return evaluate(self.agent, data, self.scorer, concurrency=self.concurrency, failure_score=self.failure_score)

    def consider(self, score: float | None, values: list[Any]) -> bool:
        """Keep ``values`` as the best if ``score`` beats it (and checkpoint them)."""
        if score is None or score <= self.best["score"]:
            return False
        self.best.update(score=score, values=values)
        if self.checkpoint is not None:
            self.agent.save(self.checkpoint)  # type: ignore[attr-defined]
        return True

    def score_initial(self, val: list[Example]) -> None:
        with track_usage() as usage:
            score = self.evaluate(val)
        self.consider(score, self.snapshot())
        self.history.append({"step": 0, "epoch": 0, "score": score, "best": score, "tokens": usage.total_tokens,
                             "cost": usage.cost, "changed": [], "note": "initial"})  # fmt: skip
        self.observers.step_ended(self.history[-1])

    def run_step(self, step: int, epoch: int, batch: list[Example], val: list[Example] | None) -> dict[str, Any]:
        """One step: forwards on ``batch``, feedback back, ``optimizer.step()``, then the score."""
        record: dict[str, Any] = {"step": step, "epoch": epoch, "changed": [], "note": ""}
        before = self.snapshot()
        improved = False
        with track_usage() as usage:
            try:
                self._feed_back(batch, record)
                self._step(step, record)
                if val is not None:
                    record["score"] = self.evaluate(val)
                    improved = self.consider(record["score"], self.snapshot())
                else:
                    record["score"] = record["batch_score"]
                    improved = self.consider(record["batch_score"], before)
            except BudgetExceeded as e:
                self.stop = record["note"] = f"budget exhausted: {str(e).splitlines()[0]}"
        best = None if self.best["score"] == -math.inf else self.best["score"]
        record.update(tokens=usage.total_tokens, cost=usage.cost, best=best)
        self.stale = 0 if improved else self.stale + 1
        return record

    def _feed_back(self, batch: list[Example], record: dict[str, Any]) -> None:
        results = execution.map(lambda ex: _run(self.agent, self.feedback_fn, ex, self.failure_score), batch,
                                concurrency=self.concurrency)  # fmt: skip
        scores = [s for _, s, _ in results if s is not None]
        record["batch_score"] = sum(scores) / len(scores) if scores else None
        self.optimizer.zero_feedback()
        for out, score, text in results:
            if not isinstance(out, Node):
                raise TypeError(f"the agent returned {type(out).__name__}, not a node\n"
                                "help: return the output of a traced call (a bundled function or operator)")  # fmt: skip
            self.optimizer.backward(out, text, score=score)

    def _step(self, step: int, record: dict[str, Any]) -> None:
        try:
            stepped = self.optimizer.step()
            record["changed"], record["rejected"] = stepped["changed"], stepped["rejected"]
        except SKIPPABLE as e:  # a failed proposal is a skipped step, unless it must end the run
            if (reason := skip_reason(e)) is None:
                raise
            record["note"] = f"skipped: {reason}"
            log.warning("step %d skipped: %s", step, e)

    def check_stop(self, record: dict[str, Any], target_score: float | None, patience: int | None) -> None:
        if self.stop:
            return
        if target_score is not None and self.best["score"] >= target_score:
            self.stop = record["note"] = "target score reached"
        elif patience is not None and self.stale >= patience:
            self.stop = record["note"] = f"early stop: no improvement in {patience} evaluations"

    def score_final(self, step: int, epochs: int, batch: list[Example]) -> None:
        with track_usage() as usage:
            final = self.evaluate(batch)
        self.consider(final, self.snapshot())
        self.history.append({"step": step, "epoch": epochs, "score": final, "best": self.best["score"],
                             "tokens": usage.total_tokens, "cost": usage.cost, "changed": [],
                             "note": "final parameters on the last batch"})  # fmt: skip
        self.observers.step_ended(self.history[-1])

    def restore_best(self) -> None:
        if self.best["score"] == -math.inf:
            return
        for p, value in zip(self.params, self.best["values"]):
            if not (type(value) is type(p.data) and value == p.data):
                p._set(value)
