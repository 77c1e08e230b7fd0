"""What a meta-optimisation records and what its LLM steps read and write.

The records are generic dataclasses over the user's own types -- ``P`` the task parameters,
``H`` the hyperparameters -- made concrete at runtime (``trace_opt.functions.concrete``), so
the LLM is asked for a ``Suggestion[Settings]`` whose ``hyperparameters`` field *is* a
``Settings`` and is decoded and validated as one (``Settings.__post_init__`` included).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Generic, Optional, TypeVar

from trace_opt.stats import summarize

__all__ = ["H", "ImprovementEstimate", "MetaResult", "P", "Reflection", "RoundRecord", "RoundView", "Suggestion", "Trial"]

P = TypeVar("P")
H = TypeVar("H")


@dataclass
class Trial(Generic[P, H]):
    """One run of the task: its inputs, what it returned (as text) and how it scored.

    ``score`` is higher-is-better; a run that raised has ``error`` set and the failure score.
    ``run_id`` names the recorded run in the store (``trace_opt.replay.Run.load``), if any.
    """

    round: int
    task_parameters: P
    hyperparameters: H
    result: str
    score: float
    feedback: str = ""
    error: Optional[str] = None
    run_id: Optional[str] = None


@dataclass
class Reflection(Generic[H]):
    """What one run says about the hyperparameters."""

    feedback: str
    evaluation: str
    suggested_changes: str
    suggested_hyperparameters: H
    missing_hyperparameters: list[str] = field(default_factory=list)


@dataclass
class Suggestion(Generic[P, H]):
    """The settings to try next, and why. An empty ``task_parameters`` keeps the current ones."""

    reasoning: str
    hyperparameters: H
    task_parameters: list[P] = field(default_factory=list)


@dataclass
class ImprovementEstimate:
    """The chance that another round beats the best score so far."""

    probability: float
    reasoning: str = ""

    def __post_init__(self) -> None:
        if not 0.0 <= self.probability <= 1.0:
            raise ValueError(f"probability must be between 0 and 1, got {self.probability}")


@dataclass
class RoundView(Generic[P, H]):
    """One round as the LLM steps see it: settings, scores, and what the reflections proposed."""

    index: int
    hyperparameters: H
    task_parameters: list[P]
    score: float
    scores: list[float]
    #: the standard error of ``score`` and its 95% bootstrap interval (None for one score)
    score_se: Optional[float] = None
    score_ci: Optional[list[float]] = None
    errors: list[str] = field(default_factory=list)
    suggested_changes: list[str] = field(default_factory=list)


def _rounded(x: Optional[float]) -> Optional[float]:
    """4 significant digits: enough to judge the noise, and the prompt (a cache key) stays short."""
    return None if x is None else float(f"{x:.4g}")


@dataclass
class RoundRecord(Generic[P, H]):
    """Everything one round did: the runs, their reflections, the estimate and the next suggestion.

    ``score`` is the mean trial score, ``score_se`` its standard error and ``score_ci`` its 95%
    bootstrap interval (``None`` for one trial, or a failed one); ``comparison`` how it fared
    against the best before it and ``estimate_source`` where ``estimate`` came from; ``refs`` holds store digests (``"round"``,
    ``"hyperparameters"``) and ``run_id`` the recorded run, when a store was given.
    """

    index: int
    hyperparameters: H
    task_parameters: list[P]
    trials: list[Trial[P, H]]
    score: float
    reflections: list[Reflection[H]] = field(default_factory=list)
    estimate: Optional[ImprovementEstimate] = None
    suggestion: Optional[Suggestion[P, H]] = None
    calls: int = 0
    tokens: int = 0
    complete: bool = True
    run_id: Optional[str] = None
    refs: dict[str, str] = field(default_factory=dict)
    score_se: Optional[float] = None
    score_ci: Optional[list[float]] = None
    #: how this round fared against the best before it (``trace_opt.stats.Comparison.fields``)
    comparison: Optional[dict[str, Any]] = None
    #: where ``estimate`` came from: ``"history"`` (the bootstrap) or ``"llm"``
    estimate_source: Optional[str] = None

    def __post_init__(self) -> None:
        if self.trials and self.score_se is None and self.score_ci is None:  # from the trials' scores
            summary = summarize([t.score for t in self.trials])
            self.score_se, self.score_ci = summary.se, None if summary.ci is None else list(summary.ci)

    def view(self) -> RoundView[P, H]:
        """The compact form shown to the LLM steps."""
        return RoundView(
            index=self.index,
            hyperparameters=self.hyperparameters,
            task_parameters=list(self.task_parameters),
            score=self.score,
            scores=[t.score for t in self.trials],
            score_se=_rounded(self.score_se),
            score_ci=None if self.score_ci is None else [float(f"{x:.4g}") for x in self.score_ci],
            errors=[t.error for t in self.trials if t.error],
            suggested_changes=[r.suggested_changes for r in self.reflections],
        )


@dataclass
class MetaResult(Generic[P, H]):
    """What :meth:`MetaOptimizer.optimize` returns: the best settings seen, with their scores.

    ``stop_reason`` is one of ``"max_rounds"``, ``"budget"``, ``"low_improvement_probability"``,
    ``"target_score"``, ``"patience"``. ``missing_hyperparameters`` counts how often the
    reflections asked for a setting the task does not have.
    """

    best_hyperparameters: H
    best_score: float
    best_round: int
    best_scores: list[float]
    rounds: list[RoundRecord[P, H]]
    stop_reason: str
    missing_hyperparameters: dict[str, int]
    summary: str
    usage: dict[str, Any]
