"""``MetaOptimizer``: tune a task's hyperparameters from runs of the task, with an LLM in the loop.

One round runs the task on every task parameter set with the current hyperparameters, scores
each run, and has the LLM reflect on each (what happened, how good, what to change, which
settings are missing). Between rounds the LLM estimates the chance that another round beats
the best score -- the loop stops when that is low, when a target score is reached, after
``patience`` rounds without progress, or when a budget (rounds, LLM calls, tokens) would be
overspent -- and suggests the next settings. Rounds older than ``history_window`` are folded
into a running summary so the prompts stay short however long the search runs.

The LLM steps are ``llm_function`` s (``optimizers.meta.steps``) specialised to the user's
own dataclasses, so a suggestion arrives as a validated instance of the hyperparameter type.
Their instructions are trainable (``parameters()``).
"""

from __future__ import annotations

import logging
import math
import statistics
from collections.abc import Callable, Sequence
from typing import Any, Generic

from trace_opt import FunModule
from trace_opt.errors import BudgetExceeded, ReplyParseError
from trace_opt.functions import LLMFunction
from trace_opt.llm.registry import BackendSpec
from trace_opt.nodes import ParameterNode
from trace_opt.replay import Run
from trace_opt.stats import CONFIDENCE, describe
from trace_opt.store import Store

from ..accept import check_confidence
from . import steps
from .evidence import Estimator, check_estimator, estimate_improvement, round_text
from .history import History
from .records import H, ImprovementEstimate, MetaResult, P, RoundRecord, Suggestion
from .recording import Spending, build_result, commit_round, recording
from .stopping import StopRules
from .trials import describe_task, run_trial, schema_type, task_list

__all__ = ["HyperparameterOptimizer", "MetaOptimizer"]

log = logging.getLogger("optimizers.meta")


class MetaOptimizer(Generic[P, H]):
    """Tune ``hyperparameters`` (a dataclass instance) of ``task(task_parameters, hyperparameters)``.

    ``score(task_parameters, result)`` returns a number (higher is better), a ``(score,
    feedback)`` pair or ``{"score", "feedback"}``; a run that raises (or whose scoring raises)
    scores ``failure_score`` and the reflection sees the error. ``task_parameters`` is one value
    or a list: each round runs the task on each and averages the scores. ``optimize()`` returns a
    :class:`MetaResult` with the best hyperparameters seen; ``rounds`` keeps every run,
    reflection, estimate and suggestion. With a ``store``, each round is a recorded run
    (``runs[i]``, replayable; ``Run.load(store, record.run_id)`` from anywhere), is committed as
    an object, and each hyperparameter set is a version (branch ``meta/<task name>``).

    A score is a mean over a few runs, so the best round is decided by the runs' scores: a later
    round replaces it only when a paired bootstrap over the task parameters both ran on says it
    is better with probability ``confidence`` (as in ``train``; 0: the higher mean wins).

    Stopping: ``max_rounds``; ``max_llm_calls`` / ``max_tokens`` (everything the loop does,
    the task's own LLM calls included; a round is not started when the average round would not
    fit); ``target_score``; ``patience`` rounds without a new best; and, from ``min_rounds``
    on, an estimated improvement probability below ``min_improvement_probability``. The default
    ``estimate="auto"`` computes it from the observed scores by bootstrap (reproducible and
    grounded in the data, which an LLM's guess is not) once there are enough of them
    (``evidence.choose_source``), and asks the LLM, shown those statistics, before; ``"history"``
    and ``"llm"`` force one. ``rounds[i].estimate_source`` says which was used.

    >>> from dataclasses import dataclass
    >>> from trace_opt.llm import DummyLLM
    >>> @dataclass
    ... class Settings:
    ...     temperature: float
    >>> reflection = ('{"feedback": "ok", "evaluation": "fine", "suggested_changes": "raise it", '
    ...               '"suggested_hyperparameters": {"temperature": 0.9}}')
    >>> llm = DummyLLM([reflection, '{"probability": 0.01, "reasoning": "flat"}'])
    >>> meta = MetaOptimizer(lambda x, h: x * h.temperature, lambda x, r: r, Settings(0.5), [1.0], llm=llm, min_rounds=1)
    >>> result = meta.optimize()
    >>> result.best_hyperparameters, result.best_score, result.stop_reason
    (Settings(temperature=0.5), 0.5, 'low_improvement_probability')
    """

    def __init__(
        self,
        task: Callable[[Any, Any], Any],
        score: Callable[[Any, Any], Any],
        hyperparameters: H,
        task_parameters: Sequence[P] | P,
        *,
        description: str = "",
        llm: BackendSpec | None = None,
        max_rounds: int = 8,
        max_llm_calls: int | None = None,
        max_tokens: int | None = None,
        min_improvement_probability: float = 0.1,
        min_rounds: int = 2,
        patience: int | None = None,
        target_score: float | None = None,
        estimate: Estimator = "auto",
        confidence: float = CONFIDENCE,
        history_window: int = 4,
        tune_task_parameters: bool = False,
        store: Store | None = None,
        failure_score: float = -math.inf,
        max_reasks: int = 2,
        result_chars: int = 2000,
        name: str | None = None,
    ) -> None:
        if not callable(task) or not callable(score):
            raise TypeError("Invalid task or score: not callable\nhelp: task(task_parameters, hyperparameters) -> "
                            "result; score(task_parameters, result) -> float")  # fmt: skip
        self.rules = StopRules(max_rounds, max_llm_calls, max_tokens, min_improvement_probability, min_rounds,
                               patience, target_score)  # fmt: skip
        self.history: History[P, H] = History(history_window, check_confidence(confidence))
        if not isinstance(result_chars, int) or result_chars < 40:
            raise ValueError(f"Invalid result_chars: {result_chars!r}\nhelp: pass an int >= 40")
        estimate = check_estimator(estimate)
        if store is not None and not isinstance(store, Store):
            raise TypeError(f"Invalid store: {type(store).__name__}\nhelp: pass a trace_opt.store.Store")
        tasks: list[Any] = task_list(task_parameters)
        self.hyperparameter_type = schema_type(hyperparameters, "hyperparameters")
        self.task_parameter_type = schema_type(tasks[0], "task_parameters") if tune_task_parameters else type(tasks[0])
        self.name: str = name or str(getattr(task, "__name__", "task"))
        self.task = task if isinstance(task, FunModule) else FunModule(task, name=self.name)
        self.score = score
        self.hyperparameters: H = hyperparameters
        self.task_parameters: list[P] = tasks
        self.description, self.estimator, self.result_chars = description, estimate, result_chars
        self.tune_task_parameters, self.store, self.failure_score = tune_task_parameters, store, failure_score
        types = {P: self.task_parameter_type, H: self.hyperparameter_type}  # type: ignore[misc]
        #: the LLM steps, specialised to these types, each with its own trainable instruction
        self.steps: dict[str, LLMFunction] = {
            fn.spec.name: fn.specialize(types, llm=llm, max_reasks=max_reasks)
            for fn in (steps.reflect, steps.suggest, steps.summarize, steps.estimate_improvement)
        }
        self.spending = Spending()
        #: round index -> its recorded run (with a store), replayable in this process: ``runs[0].replay()``
        self.runs: dict[int, Run] = {}
        self._first = 0  # the first round of the running optimize()

    @property
    def task_text(self) -> str:
        """What every LLM step is told about the task: the description, the call, the settings."""
        return describe_task(self.description, self.name, self.hyperparameters, self.rules.target_score)

    def parameters(self) -> list[ParameterNode[Any]]:
        """The trainable instructions of the LLM steps (the meta-optimiser's own prompts)."""
        return [p for fn in self.steps.values() for p in fn.parameters()]

    @property
    def rounds(self) -> list[RoundRecord[P, H]]:
        """Every round so far, in order."""
        return self.history.rounds

    @property
    def best(self) -> RoundRecord[P, H] | None:
        """The best complete round, by paired comparison at ``confidence`` (see the class docstring)."""
        return self.history.best

    # -- one round -----------------------------------------------------------------------------

    def run_round(self) -> RoundRecord[P, H]:
        """Run the task on every task parameter set with the current hyperparameters, and reflect."""
        with self.spending.tracking():
            return self._run_round()

    def _run_round(self) -> RoundRecord[P, H]:
        index = len(self.rounds)
        calls, tokens = self.usage["calls"], self.usage["tokens"]
        best_round, hyper, tasks = self.best, self.hyperparameters, list(self.task_parameters)
        best = best_round.view() if best_round is not None else None
        trials, reflections, complete = [], [], True
        with recording(self.store) as run:
            run_id = run.id if run is not None else None
            try:
                for tp in tasks:
                    trials.append(run_trial(self.task, self.score, index, tp, hyper, self.failure_score, self.result_chars))
                    trials[-1].run_id = run_id  # before the reflection sees it, so a replay sees the same
                noise = round_text(RoundRecord(index, hyper, tasks, list(trials), statistics.fmean(t.score for t in trials)),
                                   best_round)  # this round's mean with its noise, for each reflection
                for trial in trials:
                    try:
                        reflections.append(self.steps["reflect"](self.task_text, trial, best, noise))
                    except ReplyParseError as e:  # a run without a reflection is still a run
                        log.warning("no usable reflection on round %d: %s", index, str(e).splitlines()[0])
            except BudgetExceeded:
                log.info("round %d: the LLM budget ran out", index)
                complete = len(trials) == len(tasks)
        score = statistics.fmean(t.score for t in trials) if trials else self.failure_score
        rec = RoundRecord(index, hyper, tasks, trials, score, reflections, complete=complete, run_id=run_id)
        if run is not None:
            self.runs[index] = run
        rec.calls, rec.tokens = self.usage["calls"] - calls, self.usage["tokens"] - tokens
        log.info("round %d: score %s with %s", index, describe(score, rec.score_se, rec.score_ci, len(trials)), hyper)
        self.history.add(rec)
        self.history.fold(lambda previous, old: self.steps["summarize"](self.task_text, previous, old))
        return rec

    def estimate(self) -> ImprovementEstimate:
        """The probability that another round beats the best score (see the class docstring)."""
        with self.spending.tracking():
            return self._estimate()[0]

    def _estimate(self) -> tuple[ImprovementEstimate, str | None]:
        """The estimate and its source (``"history"`` or ``"llm"``; None before any round)."""
        best, left = self.best, self.rules.max_rounds - len(self.rounds)
        if best is None:
            return ImprovementEstimate(1.0, "nothing tried yet"), None
        return estimate_improvement(self.estimator, self.rounds, self.history.window, best, lambda stats: self.steps[
            "estimate_improvement"](self.task_text, self.history.summary, self.history.recent(), best.view(), stats, left,
                                    self.rules.target_score))  # fmt: skip

    def propose(self) -> Suggestion[P, H]:
        """Ask the LLM for the next settings; nothing changes until :meth:`update`."""
        best = self.best
        with self.spending.tracking():
            return self.steps["suggest"](  # type: ignore[no-any-return]
                self.task_text, self.hyperparameters, self.history.summary, self.history.recent(),
                best.view() if best is not None else None, self.tune_task_parameters,
            )  # fmt: skip

    def update(self, suggestion: Suggestion[P, H]) -> None:
        """Adopt a suggestion: its hyperparameters, and its task parameters if those are tuned."""
        if not isinstance(suggestion.hyperparameters, self.hyperparameter_type):
            raise TypeError(
                f"Invalid suggestion: hyperparameters of type {type(suggestion.hyperparameters).__name__}\n"
                f"help: suggest a {self.hyperparameter_type.__name__}"
            )
        if any(r.hyperparameters == suggestion.hyperparameters for r in self.rounds):
            log.info("the suggestion repeats settings already tried: %s", suggestion.hyperparameters)
        self.hyperparameters = suggestion.hyperparameters
        if self.tune_task_parameters and suggestion.task_parameters:
            self.task_parameters = list(suggestion.task_parameters)
        if self.rounds:
            self.rounds[-1].suggestion = suggestion

    def step(self) -> RoundRecord[P, H]:
        """One round, then the next settings adopted: ``run_round()`` and ``update(propose())``."""
        with self.spending.tracking():
            rec = self.run_round()
            self.update(self.propose())
        self._commit(rec)
        return rec

    @property
    def usage(self) -> dict[str, Any]:
        """LLM calls, tokens and dollars spent by this optimiser so far (the task's calls included)."""
        return self.spending.totals

    def optimize(self) -> MetaResult[P, H]:
        """Run rounds until a stopping rule fires; return the best settings seen (see :class:`MetaResult`)."""
        stop: str | None = None
        self._first = len(self.rounds)
        with self.spending.tracking(max_calls=self.rules.max_llm_calls, max_tokens=self.rules.max_tokens):
            while stop is None:
                stop = self.rules.before_round(len(self.rounds), len(self.rounds) - self._first, self.spending.live)
                if stop is not None:
                    break
                rec = self.run_round()
                stop = self._stop_after(rec)
                if stop is None:
                    try:
                        self.update(self.propose())
                    except BudgetExceeded:
                        stop = "budget"
                    except ReplyParseError as e:
                        log.warning("no usable suggestion, stopping: %s", str(e).splitlines()[0])
                        stop = "no_suggestion"
                self._commit(rec)
        return self.result(stop)

    def _stop_after(self, rec: RoundRecord[P, H]) -> str | None:
        stop = self.rules.after_round(self.rounds, self.best, len(self.rounds) - self._first, self.spending.live)
        if stop is not None or not self.rules.wants_estimate(len(self.rounds)):
            return stop
        try:
            rec.estimate, rec.estimate_source = self._estimate()
        except BudgetExceeded:
            return "budget"
        except ReplyParseError as e:
            log.warning("no usable improvement estimate: %s", str(e).splitlines()[0])
            return None
        log.info("round %d: improvement probability %.2f", rec.index, rec.estimate.probability)
        return "low_improvement_probability" if self.rules.too_unlikely(rec.estimate) else None

    def _commit(self, rec: RoundRecord[P, H]) -> None:
        if self.store is not None:
            commit_round(self.store, self.name, rec)

    def result(self, stop_reason: str | None = None) -> MetaResult[P, H]:
        """The best settings so far and everything recorded (also usable mid-way)."""
        return build_result(self.history, stop_reason or "", self.hyperparameters, self.failure_score, self.usage)


#: The name the issue uses for the same optimiser.
HyperparameterOptimizer = MetaOptimizer
