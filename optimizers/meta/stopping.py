"""When the meta loop stops: rounds, budgets, a target score, patience, improvement probability.

The rules are data (``StopRules``), checked before a round (``before_round``: would the
average round still fit the budget?) and after it (``after_round``); the improvement
probability itself comes from the LLM or, computed from the observed trial scores, from
``history_estimate`` (``optimizers.meta.evidence``, which decides which one; re-exported here).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from trace_opt.llm import UsageTracker

from .evidence import history_estimate
from .records import ImprovementEstimate, RoundRecord

__all__ = ["StopRules", "history_estimate"]


def _check_int(name: str, value: Any, low: int, optional: bool = False) -> None:
    if optional and value is None:
        return
    if not isinstance(value, int) or isinstance(value, bool) or value < low:
        raise ValueError(f"Invalid {name}: {value!r}\nhelp: pass an int >= {low}" + (" or None" if optional else ""))


@dataclass(frozen=True)
class StopRules:
    """The stopping rules of one ``MetaOptimizer`` (validated when built)."""

    max_rounds: int = 8
    max_llm_calls: int | None = None
    max_tokens: int | None = None
    min_improvement_probability: float = 0.1
    min_rounds: int = 2
    patience: int | None = None
    target_score: float | None = None

    def __post_init__(self) -> None:
        _check_int("max_rounds", self.max_rounds, 1)
        _check_int("max_llm_calls", self.max_llm_calls, 0, optional=True)
        _check_int("max_tokens", self.max_tokens, 0, optional=True)
        _check_int("min_rounds", self.min_rounds, 1)
        _check_int("patience", self.patience, 1, optional=True)
        p = self.min_improvement_probability
        if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0.0 <= p <= 1.0:
            raise ValueError(f"Invalid min_improvement_probability: {p!r}\nhelp: a probability in [0, 1]")

    def before_round(self, rounds_done: int, rounds_this_run: int, live: UsageTracker | None) -> str | None:
        """``"max_rounds"`` or ``"budget"`` if the next round must not start."""
        if rounds_done >= self.max_rounds:
            return "max_rounds"
        if live is None:
            return None
        for limit, used in ((self.max_llm_calls, live.calls), (self.max_tokens, live.total_tokens)):
            if limit is None:
                continue
            per_round = used / rounds_this_run if rounds_this_run else 0
            if used >= limit or used + per_round > limit:
                return "budget"
        return None

    def after_round(self, rounds: Sequence[RoundRecord[Any, Any]], best: RoundRecord[Any, Any] | None,
                    rounds_this_run: int, live: UsageTracker | None) -> str | None:  # fmt: skip
        """Why to stop after the last round, or None to go on (and maybe ask for an estimate)."""
        if rounds and not rounds[-1].complete:
            return "budget"
        if self.target_score is not None and best is not None and best.score >= self.target_score:
            return "target_score"
        stop = self.before_round(len(rounds), rounds_this_run, live)
        if stop is not None:
            return stop
        if self.patience is not None and best is not None and len(rounds) - 1 - best.index >= self.patience:
            return "patience"
        return None

    def wants_estimate(self, rounds_done: int) -> bool:
        return rounds_done >= self.min_rounds

    def too_unlikely(self, estimate: ImprovementEstimate) -> bool:
        return estimate.probability < self.min_improvement_probability
