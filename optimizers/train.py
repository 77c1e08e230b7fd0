"""The training loop: minibatches, feedback, steps, validation, best-so-far and early stopping.

Each minibatch runs its forwards concurrently (``trace_opt.execution.map``, contexts copied so
the active LLM and usage trackers follow). A forward that raises inside a traced call gives
its ``ExceptionNode`` as the output and the error as feedback, so broken code gets repaired.
The feedback of every example is sent back before one ``optimizer.step()`` -- the
optimizer sees the whole batch. The validation score (higher is better) picks the
parameters to keep: the best are restored at the end and checkpointed when they improve.
"""

from __future__ import annotations

import copy
import logging
import math
import os
import random
import sys
from collections.abc import Callable
from typing import Any, Literal

from trace_opt import Module, Node, execution, stop_tracing
from trace_opt.errors import BudgetExceeded, ReplyParseError
from trace_opt.llm import LocalLLM, track_usage

from .base import Optimizer
from .observe import TrainingRun
from .progress import load_progress, save_progress
from .data import Example, Judge, judge
from .data import examples as _examples, run_example as _run
from .search import BeamSearch, SearchTrainer
from .trainlog import TrainLog

__all__ = ["evaluate", "train"]

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


def _check(name: str, value: Any, low: int, optional: bool = False) -> None:
    if optional and value is None:
        return
    if not isinstance(value, int) or isinstance(value, bool) or value < low:
        raise ValueError(f"Invalid {name}: {value!r}\nhelp: pass an int >= {low}" + (" or None" if optional else ""))


def _bar(done: int, total: int, record: dict[str, Any]) -> None:
    filled = int(20 * done / max(total, 1))
    score = record.get("score")
    text = f"\rtrain [{'#' * filled}{'.' * (20 - filled)}] {done}/{total}"
    text += f" score {score:.3f}" if isinstance(score, float) else ""
    text += f" best {record['best']:.3f}" if isinstance(record.get("best"), float) else ""
    sys.stderr.write(text + f" tokens {record.get('tokens', 0)}  ")
    sys.stderr.flush()


@execution.with_executor  # executor="ray": forward passes, judging and scoring as Ray tasks
def train(
    agent: Callable[[Any], Any],
    dataset: Any,
    feedback_fn: Judge,
    optimizer: Optimizer,
    *,
    epochs: int = 1,
    batch_size: int = 4,
    valset: Any = None,
    eval_fn: Judge | None = None,
    concurrency: int = 4,
    patience: int | None = None,
    target_score: float | None = None,
    checkpoint: str | os.PathLike[str] | None = None,
    progress: str | os.PathLike[str] | None = None,
    restore_best: bool = True,
    shuffle: bool = True,
    seed: int | None = 0,
    failure_score: float = 0.0,
    callback: Callable[[dict[str, Any]], Any] | None = None,
    verbose: bool = False,
    trainer: SearchTrainer | Literal["auto", "step"] = "auto",
) -> TrainLog:
    """Train ``optimizer``'s parameters of ``agent`` on ``dataset``; returns the per-step log.

    ``dataset`` holds ``(input, info)`` pairs (or Trace's ``{"inputs", "infos"}``).
    ``feedback_fn(input, output, info)`` returns feedback text, a score or a ``(score, text)``
    pair; ``eval_fn`` (default: ``feedback_fn``'s score) scores ``valset``. Without a
    ``valset`` each batch's mean score credits the parameters that produced it. The
    parameters with the best score are restored at the end (``restore_best``) and saved to
    ``checkpoint`` (``Module.save``) whenever they improve. Training stops early after
    ``patience`` evaluations without improvement, on reaching ``target_score``, when
    ``callback(record)`` returns ``False``, or when an LLM budget is exhausted. A step whose
    reply cannot be read is logged as skipped. ``verbose`` draws a progress bar on stderr.

    ``progress`` is a file the state is written to after every step; if it exists, training
    resumes after the last completed step (with the LLM cache, answered calls are not paid
    for again). It applies to the one-suggestion loop.

    ``trainer`` picks the loop: ``"step"`` is the one above (one suggestion per step); a
    ``SearchTrainer`` (``BeamSearch``, ``PrioritySearch``, ``GEPA``) samples k candidates per
    step and keeps the best, returning a ``SearchLog``; ``"auto"`` (the default) is
    ``BeamSearch(k=4, beam_width=1)`` -- best-of-4 -- when the optimizer's model is the embedded
    ``LocalLLM``, whose single suggestions are rarely better, and ``"step"`` otherwise.

    >>> import trace_opt as trace
    >>> from trace_opt.llm import FunctionLLM
    >>> from optimizers import OptoPrime
    >>> k = trace.node(1, trainable=True, name="k")
    >>> llm = FunctionLLM(lambda m, **kw: '{"reasoning": "", "suggestion": {"k": 3}}')
    >>> history = train(lambda x: x * k, [(1, 3), (2, 6)], lambda x, y, want: float(y == want),
    ...                 OptoPrime([k], llm=llm), batch_size=2)
    >>> k.data, history.best_score
    (3, 1.0)
    """
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"Invalid optimizer: {optimizer!r:.80}\nhelp: pass an optimizers.Optimizer (OptoPrime(...))")
    if trainer == "auto":
        trainer = BeamSearch(k=4, beam_width=1) if isinstance(optimizer.llm, LocalLLM) else "step"
    if isinstance(trainer, SearchTrainer):
        if progress is not None:
            raise ValueError("Invalid progress: search trainers do not write progress files yet\n"
                             "help: pass trainer='step' to resume an interrupted run")  # fmt: skip
        return trainer.train(agent, dataset, feedback_fn, optimizer, epochs=epochs, batch_size=batch_size, valset=valset,
                             eval_fn=eval_fn, concurrency=concurrency, patience=patience, target_score=target_score,
                             checkpoint=checkpoint, restore_best=restore_best, shuffle=shuffle, seed=seed,
                             failure_score=failure_score, callback=callback, verbose=verbose)  # fmt: skip
    if trainer != "step":
        raise ValueError(f"Invalid trainer: {trainer!r:.80}\nhelp: pass 'auto', 'step' or a search trainer (BeamSearch(...))")
    examples = _examples(dataset, "dataset")
    val = _examples(valset, "valset") if valset is not None else None
    if not callable(feedback_fn):
        raise TypeError(f"Invalid feedback_fn: {feedback_fn!r:.80}\nhelp: pass fn(input, output, info) -> feedback")
    for name, value, low in (("epochs", epochs, 1), ("batch_size", batch_size, 1), ("concurrency", concurrency, 1)):
        _check(name, value, low)
    _check("patience", patience, 1, optional=True)
    if checkpoint is not None and not isinstance(agent, Module):
        raise ValueError(f"Invalid checkpoint: {checkpoint!r}\nhelp: checkpoints need a trace_opt.Module agent (use @model)")
    observers = TrainingRun("step", optimizer, {"epochs": epochs, "batch_size": batch_size, "concurrency": concurrency,
                            "patience": patience, "target_score": target_score, "seed": seed, "shuffle": shuffle,
                            "dataset_size": len(examples), "valset_size": None if val is None else len(val)})  # fmt: skip
    try:
        history = _step_loop(agent, examples, val, feedback_fn, optimizer, observers, epochs=epochs, batch_size=batch_size,
                             eval_fn=eval_fn, concurrency=concurrency, patience=patience, target_score=target_score,
                             checkpoint=checkpoint, progress=progress, restore_best=restore_best, shuffle=shuffle,
                             seed=seed, failure_score=failure_score, callback=callback, verbose=verbose)  # fmt: skip
    except BaseException as e:
        observers.finished(None, e, agent=agent, optimizer=optimizer)
        raise
    observers.finished(history, None, agent=agent, optimizer=optimizer)
    return history


def _step_loop(
    agent: Callable[[Any], Any],
    examples: list[Example],
    val: list[Example] | None,
    feedback_fn: Judge,
    optimizer: Optimizer,
    observers: TrainingRun,
    *,
    epochs: int,
    batch_size: int,
    eval_fn: Judge | None,
    concurrency: int,
    patience: int | None,
    target_score: float | None,
    checkpoint: str | os.PathLike[str] | None,
    progress: str | os.PathLike[str] | None,
    restore_best: bool,
    shuffle: bool,
    seed: int | None,
    failure_score: float,
    callback: Callable[[dict[str, Any]], Any] | None,
    verbose: bool,
) -> TrainLog:
    """The one-suggestion loop of :func:`train` (arguments already checked)."""
    scorer = eval_fn or feedback_fn
    params = optimizer.parameters
    if isinstance(agent, Module) and optimizer.history is None:
        optimizer.history = agent  # parameter versions in the store are named like its state_dict
    rng = random.Random(seed)
    total = epochs * math.ceil(len(examples) / batch_size)
    history = TrainLog()
    best: dict[str, Any] = {"score": -math.inf, "values": [copy.deepcopy(p.data) for p in params]}

    def consider(score: float | None, values: list[Any]) -> bool:
        if score is None or score <= best["score"]:
            return False
        best.update(score=score, values=values)
        if checkpoint is not None:
            agent.save(checkpoint)
        return True

    def snapshot() -> list[Any]:
        return [copy.deepcopy(p.data) for p in params]

    if val is not None and not (progress is not None and os.path.exists(progress)):
        with track_usage() as usage:
            score = evaluate(agent, val, scorer, concurrency=concurrency, failure_score=failure_score)
        consider(score, snapshot())
        history.append({"step": 0, "epoch": 0, "score": score, "best": score, "tokens": usage.total_tokens,
                        "cost": usage.cost, "changed": [], "note": "initial"})  # fmt: skip
        observers.step_ended(history[-1])
    stale, step, stop = 0, 0, ""
    done = 0
    if progress is not None:
        resumed = load_progress(progress, optimizer)
        if resumed is not None:
            done, stale, history = resumed["step"], resumed["stale"], TrainLog(resumed["history"])
            best.update(resumed["best"])
            log.info("resuming after step %d from %s", done, progress)
    batch: list[Example] = []
    for epoch in range(1, epochs + 1):
        order = list(range(len(examples)))
        if shuffle:
            rng.shuffle(order)
        for start in range(0, len(order), batch_size):
            batch = [examples[i] for i in order[start : start + batch_size]]
            step += 1
            if step <= done:  # completed before the run was interrupted
                continue
            observers.step_started(step)
            record: dict[str, Any] = {"step": step, "epoch": epoch, "changed": [], "note": ""}
            before = snapshot()
            with track_usage() as usage:
                try:
                    results = execution.map(lambda ex: _run(agent, feedback_fn, ex, failure_score), batch,
                                            concurrency=concurrency)  # fmt: skip
                    scores = [s for _, s, _ in results if s is not None]
                    record["batch_score"] = sum(scores) / len(scores) if scores else None
                    optimizer.zero_feedback()
                    for out, score, text in results:
                        if not isinstance(out, Node):
                            raise TypeError(f"the agent returned {type(out).__name__}, not a node\n"
                                            "help: return the output of a traced call (a bundled function or operator)")  # fmt: skip
                        optimizer.backward(out, text, score=score)
                    del results
                    try:
                        stepped = optimizer.step()
                        record["changed"], record["rejected"] = stepped["changed"], stepped["rejected"]
                    except ReplyParseError as e:
                        record["note"] = f"skipped: {str(e).splitlines()[0]}"
                        log.warning("step %d skipped: %s", step, e)
                    if val is not None:
                        record["score"] = evaluate(agent, val, scorer, concurrency=concurrency, failure_score=failure_score)
                        improved = consider(record["score"], snapshot())
                    else:
                        record["score"] = record["batch_score"]
                        improved = consider(record["batch_score"], before)
                except BudgetExceeded as e:
                    stop = record["note"] = f"budget exhausted: {str(e).splitlines()[0]}"
                    improved = False
            record.update(tokens=usage.total_tokens, cost=usage.cost, best=None if best["score"] == -math.inf else best["score"])
            stale = 0 if improved else stale + 1
            if not stop and target_score is not None and best["score"] >= target_score:
                stop = record["note"] = "target score reached"
            elif not stop and patience is not None and stale >= patience:
                stop = record["note"] = f"early stop: no improvement in {patience} evaluations"
            history.append(record)
            observers.step_ended(record)
            if progress is not None:
                save_progress(progress, optimizer, step, best, stale, history)
            log.info("step %d/%d epoch %d score %s best %s tokens %d %s", step, total, epoch, record.get("score"),
                     record["best"], record["tokens"], record["note"])  # fmt: skip
            if verbose:
                _bar(step, total, record)
            if callback is not None and callback(record) is False:
                stop = stop or "stopped by callback"
            if stop:
                break
        if stop:
            break
    if val is None and not stop and batch:  # the last update has not been scored yet
        with track_usage() as usage:
            final = evaluate(agent, batch, scorer, concurrency=concurrency, failure_score=failure_score)
        consider(final, snapshot())
        history.append({"step": step, "epoch": epochs, "score": final, "best": best["score"], "tokens": usage.total_tokens,
                        "cost": usage.cost, "changed": [], "note": "final parameters on the last batch"})  # fmt: skip
        observers.step_ended(history[-1])
    if restore_best and best["score"] != -math.inf:
        for p, value in zip(params, best["values"]):
            if not (type(value) is type(p.data) and value == p.data):
                p._set(value)
    if verbose:
        sys.stderr.write("\n")
    return history
