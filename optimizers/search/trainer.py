"""``SearchTrainer``: what every search shares -- options, the budget, the run, the end.

A subclass implements ``_search(run)``: pick parents, ``run.expand`` them on minibatches, keep
some children, ``run.consider`` the promising ones for "best" and close each step with
``run.end_step``. The base class validates the options, opens the budget, catches its end,
and restores (and commits) the best parameters.
"""

from __future__ import annotations

import math
import os
import uuid
from collections.abc import Callable
from typing import Any

from trace_opt.errors import BudgetExceeded
from trace_opt.execution import with_executor
from trace_opt.store import Store

from ..accept import CONFIDENCE, check_confidence
from ..bars import StepBar
from ..base import Optimizer
from ..data import Judge, check_int, check_train_args
from ..observe import TrainingRun
from .budget import Budget
from .log import SearchLog
from .run import SearchRun

__all__ = ["SearchTrainer"]

_int = check_int  # the name the search modules import


class SearchTrainer:
    """Base of the search trainers: k candidates per step, scored on minibatches.

    Args:
        k: proposals sampled per expansion (distinct ``sample_id``\\ s).
        temperature: sampling temperature of the proposals (``None``: the backend's default,
            0.7 on the local model; on SmolLM2 hotter samples mostly change nothing).
        max_feedback_tokens: budget of the feedback sent back per expansion (see
            ``aggregate_feedback``).
        verbatim: examples whose feedback (and graph) is shown verbatim per expansion.
        proposal_concurrency: proposals requested at once (1 for a local model, which
            serializes calls anyway).
        max_reasks: re-asks per sample after an unusable reply (default 0). In a search a fresh
            sample is as good as a repaired one, so an unusable reply -- code that does not
            compile, a value breaking its constraint, unreadable JSON -- costs one call and the
            sample is dropped (logged as ``unreadable`` or ``unchanged``), instead of up to
            three calls for one candidate. ``None`` keeps the optimizer's own ``max_reasks``.

    A proposal that fails for a reason concerning only it (an unreadable reply, a prompt too
    long for the context, a provider failing after its retries; see ``optimizers.failures``)
    is dropped; a step whose proposals all failed is logged as ``skipped`` with the reason.
    Only a spent budget or a wrong setup (bad key, unknown model) ends the search.

    ``train(agent, dataset, feedback_fn, optimizer, ...)`` takes ``train``'s arguments plus
    ``steps`` (default ``epochs * ceil(len(dataset) / batch_size)``), ``budget`` (a ``Budget``)
    and ``store`` (default: the active store) and returns a ``SearchLog``; ``executor="ray"`` runs
    forward passes, judging and scoring as Ray tasks, as ``train(..., executor=)``. The best parameters
    are restored at the end and committed to the store whenever they improve.
    ``restore_best=False`` leaves the initial values (the best are in ``log.best_values``).
    ``confidence`` (default 0.9) is how sure a paired comparison on the same examples must be
    that a candidate is better before it replaces the best or, in a step, its parent
    (``optimizers.accept``; 0 keeps any higher mean). ``confidence`` holds per comparison: of
    k noise-only children, the chance that one passes grows with k (raise it for large k). Each step's record carries the best's
    ``score_se``, ``score_ci`` and ``score_n`` (``trace_opt.stats``).

    >>> class Noop(SearchTrainer):                  # a search that only scores the start
    ...     def _search(self, run, steps):
    ...         run.step += 1
    ...         c = run.root(); run.run_batch(c, run.next_batch(), traced=False); run.consider(c)
    ...         run.end_step("scored the initial values")
    >>> import trace_opt as trace
    >>> from trace_opt.llm import FunctionLLM
    >>> from optimizers import OptoPrime
    >>> x = trace.node(2, trainable=True)
    >>> log = Noop().train(lambda _: x + 0, [(None, 2)], lambda _, y, want: float(y == want),
    ...                    OptoPrime([x], llm=FunctionLLM(lambda m, **kw: "{}")))
    >>> log.best_score, log.calls, log[0]["note"]
    (1.0, 0, 'scored the initial values')
    """

    def __init__(
        self,
        *,
        k: int = 4,
        temperature: float | None = None,
        max_feedback_tokens: int = 800,
        verbatim: int = 3,
        proposal_concurrency: int = 1,
        max_reasks: int | None = 0,
    ) -> None:
        check_int("k", k, 1)
        check_int("max_feedback_tokens", max_feedback_tokens, 50)
        check_int("verbatim", verbatim, 1)
        check_int("proposal_concurrency", proposal_concurrency, 1)
        check_int("max_reasks", max_reasks, 0, optional=True)
        if temperature is not None and (isinstance(temperature, bool) or not isinstance(temperature, (int, float))
                                        or not 0 <= temperature <= 2):  # fmt: skip
            raise ValueError(f"Invalid temperature: {temperature!r}\nhelp: pass a number in [0, 2], or None")
        self.k = k
        self.temperature = temperature
        self.max_feedback_tokens = max_feedback_tokens
        self.verbatim = verbatim
        self.proposal_concurrency = proposal_concurrency
        self.max_reasks = max_reasks

    @with_executor  # executor="ray": forward passes, judging and candidate scoring as Ray tasks
    def train(
        self,
        agent: Callable[[Any], Any],
        dataset: Any,
        feedback_fn: Judge,
        optimizer: Optimizer,
        *,
        steps: int | None = None,
        epochs: int = 1,
        batch_size: int = 4,
        valset: Any = None,
        eval_fn: Judge | None = None,
        concurrency: int = 4,
        budget: Budget | None = None,
        store: Store | None = None,
        patience: int | None = None,
        target_score: float | None = None,
        checkpoint: str | os.PathLike[str] | None = None,
        restore_best: bool = True,
        shuffle: bool = True,
        seed: int | None = 0,
        failure_score: float = 0.0,
        callback: Callable[[dict[str, Any]], Any] | None = None,
        verbose: bool = False,
        confidence: float = CONFIDENCE,
    ) -> SearchLog:
        """Search for better values of ``optimizer``'s parameters of ``agent``; see the class."""
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"Invalid optimizer: {optimizer!r:.80}\nhelp: pass an optimizers.Optimizer (OptoPrime(...))")
        check_train_args(agent, feedback_fn, epochs=epochs, batch_size=batch_size, concurrency=concurrency,
                         patience=patience, checkpoint=checkpoint)  # fmt: skip
        check_int("steps", steps, 1, optional=True)
        if budget is not None and not isinstance(budget, Budget):
            raise TypeError(f"Invalid budget: {budget!r:.80}\nhelp: pass optimizers.Budget(calls=..., seconds=...)")
        if store is not None and not isinstance(store, Store):
            raise TypeError(f"Invalid store: {store!r:.80}\nhelp: pass a trace_opt.store.Store, or None")
        opts = dict(valset=valset, eval_fn=eval_fn, concurrency=concurrency, store=store, patience=patience,
                    target_score=target_score, checkpoint=checkpoint, restore_best=restore_best, shuffle=shuffle,
                    seed=seed, failure_score=failure_score, callback=callback,
                    batch_size=batch_size, confidence=check_confidence(confidence))  # fmt: skip
        # the seed is part of every call's sample identity (see optimizers.ask)
        optimizer.run_seed = seed if seed is not None else f"unseeded-{uuid.uuid4().hex[:12]}"
        run = SearchRun(self, agent, dataset, feedback_fn, optimizer, opts)
        total = steps if steps is not None else epochs * math.ceil(len(run.examples) / batch_size)
        options = {"steps": total, "batch_size": batch_size, "concurrency": concurrency, "patience": patience,
                   "target_score": target_score, "seed": seed, "shuffle": shuffle, "dataset_size": len(run.examples),
                   "valset_size": None if run.val is None else len(run.val), "k": self.k,
                   "temperature": self.temperature}  # fmt: skip
        run.observers = TrainingRun(type(self).__name__, optimizer, options)
        run.bar = StepBar(type(self).__name__, total, enabled=verbose)
        try:
            with (budget or Budget()).track() as (usage, clock):
                run.usage, run.clock = usage, clock
                try:
                    self._search(run, total)
                except BudgetExceeded as e:
                    run.stop = f"budget exhausted: {str(e).splitlines()[0]}"
                    run.end_step(run.stop)
                result = run.finish()
        except BaseException as e:
            run.observers.finished(None, e, agent=agent, optimizer=optimizer)
            raise
        finally:
            run.bar.close()
        run.observers.finished(result, None, agent=agent, optimizer=optimizer)
        return result

    def _search(self, run: SearchRun, steps: int) -> None:
        raise NotImplementedError(f"{type(self).__name__} must implement _search")

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({fields})"
