"""One step of ``train``'s one-suggestion loop and the state it carries between steps.

Run a batch, send its feedback back, ``optimizer.step()``, score, keep the best (and
checkpoint it); ``train`` decides the order of batches, progress files and stopping.

Every score is a ``trace_opt.stats.Summary`` (mean, standard error, bootstrap interval) in the
step's record and, with a store, kept with the parameter version it scored. New parameters
replace the best only when a paired comparison on the same examples says they are better
(``optimizers.accept``): with a valset both were scored on it; without one the batch scores
the parameters that produced it, so the best is scored on that batch too (one more forward
per example, counted in the step's tokens) unless it is the same parameters.
"""

from __future__ import annotations

import copy
import logging
import math
import os
from collections.abc import Callable, Sequence
from typing import Any

from trace_opt import Node, execution, stop_tracing
from trace_opt.errors import BudgetExceeded
from trace_opt.llm import track_usage
from trace_opt.stats import Summary, attach, summarize
from trace_opt.store import active_store

from .accept import decide
from .base import Optimizer
from .data import Example, Judge
from .data import examples as _examples
from .data import run_example as _run
from .failures import SKIPPABLE, skip_reason
from .observe import TrainingRun
from .trainlog import TrainLog

__all__ = ["StepLoop", "evaluate", "evaluate_scores"]

log = logging.getLogger("optimizers.train")


def evaluate(
    agent: Callable[[Any], Any], dataset: Any, eval_fn: Judge, *, concurrency: int = 4, failure_score: float = 0.0
) -> float:
    """Mean score of ``eval_fn(input, output, info)`` over ``dataset``, without tracing.

    A forward that raises scores ``failure_score``.

    >>> evaluate(lambda x: x * 2, [(1, 2), (2, 5)], lambda x, y, want: float(y == want))
    0.5
    """
    scores = evaluate_scores(agent, dataset, eval_fn, concurrency=concurrency, failure_score=failure_score)
    return sum(scores) / len(scores)


def evaluate_scores(
    agent: Callable[[Any], Any], dataset: Any, eval_fn: Judge, *, concurrency: int = 4, failure_score: float = 0.0
) -> list[float]:
    """Per-example scores of ``evaluate`` (a missing score counts 0), for ``trace_opt.stats``.

    >>> from trace_opt.stats import summarize
    >>> print(summarize(evaluate_scores(lambda x: x * 2, [(1, 2), (2, 5)], lambda x, y, want: float(y == want))))
    0.500 ± 0.500 [0.000, 1.000] n=2
    """
    return [0.0 if s is None else s for s in _scores(agent, _examples(dataset, "dataset"), eval_fn, concurrency, failure_score)]


def _scores(agent: Callable[[Any], Any], examples: list[Example], fn: Judge, concurrency: int,
            failure_score: float) -> list[float | None]:  # fmt: skip
    """Each example's score under ``fn``, untraced (``None`` where ``fn`` gave only text)."""
    with stop_tracing():
        return execution.map(lambda ex: _run(agent, fn, ex, failure_score)[1], examples, concurrency=concurrency)


class StepLoop:
    """The state of the one-suggestion loop and its steps: run a batch, step, score, keep the best."""

    def __init__(self, agent: Callable[[Any], Any], optimizer: Optimizer, feedback_fn: Judge, scorer: Judge, *,
                 checkpoint: str | os.PathLike[str] | None, concurrency: int, failure_score: float,
                 observers: TrainingRun, confidence: float) -> None:  # fmt: skip
        self.agent, self.optimizer, self.feedback_fn, self.scorer = agent, optimizer, feedback_fn, scorer
        self.observers, self.confidence = observers, confidence
        self.checkpoint, self.concurrency, self.failure_score = checkpoint, concurrency, failure_score
        self.params = optimizer.parameters
        self.history = TrainLog()
        self.best: dict[str, Any] = {"score": -math.inf, "values": self.snapshot()}
        self.done = self.stale = 0  # steps completed before a resume; evaluations without improvement
        self.step = self.saved = 0  # the step running; the last step in the progress file
        self.stop = ""
        # the best's per-example scores and what they were scored on ((data, judge) identity)
        self.best_scores: list[float | None] = []
        self.best_on: tuple[Any, Any] | None = None
        self.version: str | None = None  # the store version of the current parameters

    def snapshot(self) -> list[Any]:
        return [copy.deepcopy(p.data) for p in self.params]

    def evaluate(self, data: list[Example], judge: Judge | None = None) -> list[float | None]:
        """Per-example scores on ``data`` (``None`` where the judge gave only text)."""
        return _scores(self.agent, data, judge or self.scorer, self.concurrency, self.failure_score)

    def evaluate_val(self, data: list[Example]) -> list[float]:
        """Scores as ``evaluate`` counts them: a missing score is 0."""
        return [0.0 if s is None else s for s in self.evaluate(data)]

    def _best_on(self, data: list[Example], judge: Judge) -> list[float | None]:
        """The best's scores on ``data`` under ``judge``: kept, or scored now (parameters restored)."""
        if self.best_on is not None and self.best_on[0] is data and self.best_on[1] is judge:
            return self.best_scores
        current = self.snapshot()
        for p, value in zip(self.params, self.best["values"]):
            p._set(value)
        try:
            self.best_scores, self.best_on = self.evaluate(data, judge), (data, judge)  # kept for the next comparison
            return self.best_scores
        finally:
            for p, value in zip(self.params, current):
                p._set(value)

    def consider(self, scores: Sequence[float | None], values: list[Any], data: list[Example], judge: Judge,
                 record: dict[str, Any]) -> bool:  # fmt: skip
        """Keep ``values`` (scored ``scores`` on ``data`` by ``judge``) as the best if a paired
        comparison with the best on the same examples accepts them (and checkpoint them)."""
        known = [s for s in scores if s is not None]
        if not known:
            return False
        if self.best["score"] != -math.inf:
            if all(type(a) is type(b) and a == b for a, b in zip(values, self.best["values"])):
                return False  # the same parameters scored again: nothing to compare
            incumbent = self._best_on(data, judge)
            pairs = [(a, b) for a, b in zip(scores, incumbent) if a is not None and b is not None]
            if not pairs:
                return False
            verdict = decide([a for a, _ in pairs], [b for _, b in pairs], confidence=self.confidence, logger=log,
                             what=f"step {record['step']}: new parameters vs the best")  # fmt: skip
            record["comparison"] = verdict.fields()
            if not verdict.accepted:
                return False
        self.best.update(score=sum(known) / len(known), values=values)
        self.best_scores, self.best_on = list(scores), (data, judge)
        if self.checkpoint is not None:
            self.agent.save(self.checkpoint)  # type: ignore[attr-defined]
        return True

    def summary(self, scores: Sequence[float | None], record: dict[str, Any], version: str | None,
                on: str) -> Summary | None:  # fmt: skip
        """Put the summary of ``scores`` in ``record`` and keep it with the store ``version`` it scored."""
        known = [s for s in scores if s is not None]
        if not known:
            return None
        result = summarize(known)
        record.update({k: v for k, v in result.fields().items() if k != "score"})
        store = active_store()
        if store is not None and version is not None:
            attach(store, version, result, step=record["step"], on=on)
        return result

    def score_initial(self, val: list[Example]) -> None:
        record: dict[str, Any] = {"step": 0, "epoch": 0, "changed": [], "note": "initial"}
        with track_usage() as usage:
            scores = self.evaluate_val(val)
        record["score"] = record["best"] = sum(scores) / len(scores)
        self.summary(scores, record, self.version, "valset")
        self.consider(scores, self.snapshot(), val, self.scorer, record)
        record.update(tokens=usage.total_tokens, cost=usage.cost)
        self.history.append(record)
        self.observers.step_ended(self.history[-1])

    def run_step(self, step: int, epoch: int, batch: list[Example], val: list[Example] | None) -> dict[str, Any]:
        """One step: forwards on ``batch``, feedback back, ``optimizer.step()``, then the score."""
        record: dict[str, Any] = {"step": step, "epoch": epoch, "changed": [], "note": ""}
        before, before_version = self.snapshot(), self.version
        improved = False
        with track_usage() as usage:
            try:
                batch_scores = self._feed_back(batch, record)
                self._step(step, record)
                if val is not None:
                    scores = self.evaluate_val(val)
                    record["score"] = sum(scores) / len(scores)
                    self.summary(scores, record, self.version, "valset")
                    improved = self.consider(scores, self.snapshot(), val, self.scorer, record)
                else:
                    record["score"] = record["batch_score"]
                    self.summary(batch_scores, record, before_version, "batch")
                    improved = self.consider(batch_scores, before, batch, self.feedback_fn, record)
            except BudgetExceeded as e:
                self.stop = record["note"] = f"budget exhausted: {str(e).splitlines()[0]}"
        best = None if self.best["score"] == -math.inf else self.best["score"]
        record.update(tokens=usage.total_tokens, cost=usage.cost, best=best)
        self.stale = 0 if improved else self.stale + 1
        return record

    def _feed_back(self, batch: list[Example], record: dict[str, Any]) -> list[float | None]:
        """Run ``batch`` traced and send each feedback back; returns the per-example scores."""
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
        return [s for _, s, _ in results]

    def _step(self, step: int, record: dict[str, Any]) -> None:
        try:
            stepped = self.optimizer.step()
            record["changed"], record["rejected"] = stepped["changed"], stepped["rejected"]
            self.version = stepped.get("version", self.version)
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
        record: dict[str, Any] = {"step": step, "epoch": epochs, "changed": [],
                                  "note": "final parameters on the last batch"}  # fmt: skip
        with track_usage() as usage:
            scores = self.evaluate_val(batch)
            record["score"] = sum(scores) / len(scores)
            self.summary(scores, record, self.version, "batch")
            self.consider(scores, self.snapshot(), batch, self.scorer, record)
        record.update(best=self.best["score"], tokens=usage.total_tokens, cost=usage.cost)
        self.history.append(record)
        self.observers.step_ended(self.history[-1])

    def restore_best(self) -> None:
        if self.best["score"] == -math.inf:
            return
        for p, value in zip(self.params, self.best["values"]):
            if not (type(value) is type(p.data) and value == p.data):
                p._set(value)
