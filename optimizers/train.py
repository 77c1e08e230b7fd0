"""The training loop: minibatches, feedback, steps, validation, best-so-far and early stopping.

Each minibatch runs its forwards concurrently (``trace_opt.execution.map``, contexts copied so
the active LLM and usage trackers follow). A forward that raises inside a traced call gives
its ``ExceptionNode`` as the output and the error as feedback, so broken code gets repaired.
The feedback of every example is sent back before one ``optimizer.step()`` -- the
optimizer sees the whole batch. The validation score (higher is better) picks the
parameters to keep: the best are restored at the end and checkpointed when they improve.
"""

from __future__ import annotations

import logging
import math
import os
import random
from collections.abc import Callable, Iterator
from typing import Any, Literal

from trace_opt import Module, execution
from trace_opt.errors import TrainingInterrupted
from trace_opt.llm import LocalLLM
from trace_opt.stats import describe

from .accept import CONFIDENCE, check_confidence
from .bars import StepBar
from .base import Optimizer
from .observe import TrainingRun
from .progress import load_progress, save_progress
from .data import Example, Judge, check_train_args
from .data import examples as _examples
from .search import BeamSearch, SearchTrainer
from .steploop import StepLoop, evaluate
from .trainlog import TrainLog

__all__ = ["evaluate", "train"]  # evaluate lives in steploop; exported here as before

log = logging.getLogger("optimizers.train")


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
    confidence: float = CONFIDENCE,
) -> TrainLog:
    """Train ``optimizer``'s parameters of ``agent`` on ``dataset``; returns the per-step log.

    ``dataset`` holds ``(input, info)`` pairs (or Trace's ``{"inputs", "infos"}``).
    ``feedback_fn(input, output, info)`` returns feedback text, a score or a ``(score, text)``
    pair; ``eval_fn`` (default: ``feedback_fn``'s score) scores ``valset``. Without a
    ``valset`` each batch's mean score credits the parameters that produced it. The
    parameters with the best score are restored at the end (``restore_best``) and saved to
    ``checkpoint`` (``Module.save``) whenever they improve. Training stops early after
    ``patience`` evaluations without improvement, on reaching ``target_score``, when
    ``callback(record)`` returns ``False``, or when an LLM budget is exhausted. A failed
    proposal is a skipped step (``optimizers.failures``). ``seed`` is in every call's sample
    identity: a seeded re-run hits the cache. ``progress`` is a file the state is written to
    after every step; if it exists, training resumes after the last completed step (answered
    calls come from the LLM cache). It applies to the one-suggestion loop; ``verbose`` draws a
    progress bar on stderr (``optimizers.bars``: tqdm, a widget in Jupyter).

    Every score in the log comes with its standard error and 95% bootstrap interval
    (``score_se``, ``score_ci``, ``score_n``; ``trace_opt.stats``). New parameters become the
    best only when a paired comparison on the same examples gives them a probability of
    ``confidence`` (default 0.9) of a higher mean (``optimizers.accept``; 0: any higher mean).

    ``trainer`` picks the loop: ``"step"`` is the one above (one suggestion per step); a
    ``SearchTrainer`` (``BeamSearch``, ``PrioritySearch``, ``GEPA``) samples k candidates per
    step and keeps the best, returning a ``SearchLog``; ``"auto"`` (the default) is
    best-of-4 (``BeamSearch(k=4, beam_width=1)``) on the embedded ``LocalLLM`` -- a sample costs
    time, not money, and a 135M model's one suggestion is rarely better -- else ``"step"``
    (hosted samples are paid for; pass a ``BeamSearch`` to search there).

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
    optimizer.run_seed = seed if seed is not None else f"unseeded-{os.urandom(6).hex()}"
    if trainer == "auto":
        trainer = BeamSearch(k=4, beam_width=1) if isinstance(optimizer.llm, LocalLLM) else "step"
    if isinstance(trainer, SearchTrainer):
        if progress is not None:
            raise ValueError("Invalid progress: search trainers do not write progress files yet\n"
                             "help: pass trainer='step' to resume an interrupted run")  # fmt: skip
        try:
            return trainer.train(agent, dataset, feedback_fn, optimizer, epochs=epochs, batch_size=batch_size,
                                 valset=valset, eval_fn=eval_fn, concurrency=concurrency, patience=patience,
                                 target_score=target_score, checkpoint=checkpoint, restore_best=restore_best,
                                 shuffle=shuffle, seed=seed, failure_score=failure_score, callback=callback,
                                 verbose=verbose, confidence=confidence)  # fmt: skip
        except KeyboardInterrupt as e:
            if isinstance(e, TrainingInterrupted):
                raise
            raise TrainingInterrupted(_interrupted("the search", None, checkpoint)) from None
    if trainer != "step":
        raise ValueError(f"Invalid trainer: {trainer!r:.80}\nhelp: pass 'auto', 'step' or a search trainer (BeamSearch(...))")
    examples = _examples(dataset, "dataset")
    val = _examples(valset, "valset") if valset is not None else None
    check_train_args(agent, feedback_fn, epochs=epochs, batch_size=batch_size, concurrency=concurrency,
                     patience=patience, checkpoint=checkpoint)  # fmt: skip
    if isinstance(agent, Module) and optimizer.history is None:
        optimizer.history = agent  # parameter versions in the store are named like its state_dict
    observers = TrainingRun("step", optimizer, {"epochs": epochs, "batch_size": batch_size, "concurrency": concurrency,
                            "patience": patience, "target_score": target_score, "seed": seed, "shuffle": shuffle,
                            "dataset_size": len(examples), "valset_size": None if val is None else len(val)})  # fmt: skip
    loop = StepLoop(agent, optimizer, feedback_fn, eval_fn or feedback_fn, checkpoint=checkpoint,
                     concurrency=concurrency, failure_score=failure_score, observers=observers,
                     confidence=check_confidence(confidence))  # fmt: skip
    try:
        history = _train_loop(loop, examples, val, epochs=epochs, batch_size=batch_size, shuffle=shuffle, seed=seed,
                              target_score=target_score, patience=patience, progress=progress, callback=callback,
                              restore_best=restore_best, verbose=verbose)  # fmt: skip
    except BaseException as e:
        observers.finished(None, e, agent=agent, optimizer=optimizer)
        if isinstance(e, KeyboardInterrupt) and not isinstance(e, TrainingInterrupted):
            where = f"step {loop.step}" if loop.step else "the initial evaluation"
            raise TrainingInterrupted(_interrupted(where, progress, checkpoint, loop.saved), log=loop.history) from None
        raise
    observers.finished(history, None, agent=agent, optimizer=optimizer)
    return history


def _interrupted(where: str, progress: Any, checkpoint: Any, saved: int = 0) -> str:
    """The one line Ctrl-C leaves: what is on disk and how to carry on."""
    if progress is not None and saved:
        return (f"training interrupted in {where}: steps 1-{saved} are saved in {progress}; "
                "run the same train(...) call again to resume after them")  # fmt: skip
    if progress is not None:
        return (f"training interrupted in {where}: no step had completed, so {progress} holds nothing yet; "
                "run the same train(...) call again to start over")  # fmt: skip
    if checkpoint is not None:
        return (f"training interrupted in {where}: the best parameters so far are in {checkpoint} "
                "(Module.load); pass progress='progress.json' to train(...) to make a run resumable")  # fmt: skip
    return (f"training interrupted in {where}: nothing was saved; "
            "pass progress='progress.json' to train(...) to make a run resumable")


def _train_loop(loop: StepLoop, examples: list[Example], val: list[Example] | None, *, epochs: int, batch_size: int,
         shuffle: bool, seed: int | None, target_score: float | None, patience: int | None,
         progress: str | os.PathLike[str] | None, callback: Callable[[dict[str, Any]], Any] | None,
         restore_best: bool, verbose: bool) -> TrainLog:  # fmt: skip
    """The one-suggestion loop (arguments checked): resume, initial score, steps, final score, best restored."""
    optimizer = loop.optimizer
    resumed = _resume(progress, optimizer, loop)
    if val is not None and not resumed:
        loop.score_initial(val)
    total = epochs * math.ceil(len(examples) / batch_size)
    step, batch = 0, list[Example]()
    bar = StepBar("train", total, enabled=verbose, initial=loop.done)  # closed below, or by tqdm when collected
    for step, epoch, batch in _batches(examples, epochs, batch_size, shuffle, seed):
        if step <= loop.done:  # completed before the run was interrupted
            continue
        loop.observers.step_started(step)
        loop.step = step
        record = loop.run_step(step, epoch, batch, val)
        loop.check_stop(record, target_score, patience)
        loop.history.append(record)
        loop.observers.step_ended(record)
        if progress is not None:
            save_progress(progress, optimizer, step, loop.best, loop.stale, loop.history)
            loop.saved = step
        log.info("step %d/%d epoch %d score %s best %s tokens %d %s", step, total, epoch,
                 describe(record.get("score"), record.get("score_se"), record.get("score_ci"), record.get("score_n")),
                 record["best"], record["tokens"], record["note"])  # fmt: skip
        bar.step(record)
        if callback is not None and callback(record) is False:
            loop.stop = loop.stop or "stopped by callback"
        if loop.stop:
            break
    bar.close()
    if val is None and not loop.stop and batch:  # the last update has not been scored yet
        loop.score_final(step, epochs, batch)
    if restore_best:
        loop.restore_best()
    return loop.history


def _batches(examples: list[Example], epochs: int, batch_size: int, shuffle: bool,
             seed: int | None) -> Iterator[tuple[int, int, list[Example]]]:  # fmt: skip
    """``(step, epoch, batch)`` in the seeded order, so a resumed run sees the batches the first run would have."""
    rng = random.Random(seed)
    step = 0
    for epoch in range(1, epochs + 1):
        order = list(range(len(examples)))
        if shuffle:
            rng.shuffle(order)
        for start in range(0, len(order), batch_size):
            step += 1
            yield step, epoch, [examples[i] for i in order[start : start + batch_size]]


def _resume(progress: str | os.PathLike[str] | None, optimizer: Optimizer, loop: StepLoop) -> bool:
    """Load ``progress`` (if it exists) into the loop: completed steps, best so far, patience count."""
    if progress is None:
        return False
    resumed = load_progress(progress, optimizer)
    if resumed is None:
        return False
    loop.done, loop.stale, loop.history = resumed["step"], resumed["stale"], TrainLog(resumed["history"])
    loop.saved = loop.done
    loop.best.update(resumed["best"])
    log.info("resuming after step %d from %s", loop.done, progress)
    return True
