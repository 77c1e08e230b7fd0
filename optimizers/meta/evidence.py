"""What the observed scores say: which round is best, and the chance that another round beats it.

A round's score is a mean over a few task runs, so a round can come out on top by luck. Two
decisions therefore use the per-task scores rather than the means:

- the best round (:class:`BestRound`): a later round replaces the best only when a bootstrap
  of their score differences says it is better, at ``confidence`` (the rule ``train`` and the
  search trainers use, ``optimizers.accept``); each comparison is logged at INFO;
- the chance of improvement (:func:`history_estimate`): the bootstrap chance that a round like
  the recent ones scores above the best. ``estimate="auto"`` (:func:`choose_source`) uses it once
  the history holds enough per-task scores for a bootstrap, and asks the LLM before that.

Two rounds are compared on the task parameters both ran on, paired (matched by equality, so
unhashable dataclasses work); rounds that share none -- ``tune_task_parameters`` changed them
all -- are compared unpaired over all their scores, which needs a larger difference to pass.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any, Literal

from trace_opt.stats import CONFIDENCE, RESAMPLES, Comparison, compare, describe

from .records import ImprovementEstimate, RoundRecord

__all__ = [
    "BestRound", "ESTIMATORS", "Estimator", "MIN_ROUNDS", "MIN_TRIALS", "check_estimator", "choose_source",
    "compare_rounds", "estimate_improvement", "history_estimate", "round_text", "statistics_text",
]  # fmt: skip

log = logging.getLogger("optimizers.meta")

Estimator = Literal["auto", "llm", "history"]
ESTIMATORS = ("auto", "llm", "history")
#: task scores a round needs before ``estimate="auto"`` trusts the bootstrap: with 2 the paired
#: bootstrap has 3 distinct resampled means (its probabilities move in quarters), with 3 it has 10
MIN_TRIALS = 3
#: complete rounds ``estimate="auto"`` needs: the best and at least one round to compare with it
MIN_ROUNDS = 2


def check_estimator(value: Any) -> Estimator:
    """``value`` as an ``estimate`` option; ``ValueError`` naming it otherwise."""
    if value not in ESTIMATORS:
        raise ValueError(f"Invalid estimate: {value!r}\nhelp: 'auto' (the default), 'llm' or 'history'")
    return value  # type: ignore[no-any-return]


def _scores(r: RoundRecord[Any, Any]) -> list[float]:
    return [t.score for t in r.trials] or [r.score]


def _paired(a: RoundRecord[Any, Any], b: RoundRecord[Any, Any]) -> tuple[list[float], list[float]] | None:
    """The scores of ``a`` and ``b`` on the task parameters both ran on, in ``a``'s order."""
    if not a.trials or not b.trials:
        return ([a.score], [b.score]) if not a.trials and not b.trials else None
    left, mine, theirs = list(b.trials), [], []
    for t in a.trials:
        match = next((u for u in left if u.task_parameters == t.task_parameters), None)
        if match is not None:
            left.remove(match)
            mine.append(t.score)
            theirs.append(match.score)
    return (mine, theirs) if mine else None


def compare_rounds(candidate: RoundRecord[Any, Any], incumbent: RoundRecord[Any, Any], confidence: float) -> Comparison:
    """``trace_opt.stats.compare`` of two rounds' task scores: paired on the task parameters both
    ran on, unpaired over every score when they share none."""
    pairs = _paired(candidate, incumbent)
    if pairs is not None:
        return compare(pairs[0], pairs[1], confidence=confidence, paired=True)
    return compare(_scores(candidate), _scores(incumbent), confidence=confidence, paired=False)


class BestRound:
    """The best round, judged once per round in order: the first complete round, then any later
    complete round that :func:`compare_rounds` accepts against it at ``confidence`` (0: the
    higher mean wins, as before). Each verdict is logged at INFO and kept in ``round.comparison``.
    With no complete round (the first ran out of budget), the highest-scoring one.

    >>> rounds = [RoundRecord(0, None, [], [], 0.1), RoundRecord(1, None, [], [], 0.5)]
    >>> BestRound(0.9).update(rounds).index
    1
    """

    def __init__(self, confidence: float, logger: logging.Logger | None = log) -> None:
        self.confidence, self.logger = confidence, logger
        self.best: RoundRecord[Any, Any] | None = None
        self.seen: list[RoundRecord[Any, Any]] = []

    def update(self, rounds: Sequence[RoundRecord[Any, Any]]) -> RoundRecord[Any, Any] | None:
        """The best of ``rounds``, judging only those not judged before (all, if the list was changed)."""
        if len(rounds) < len(self.seen) or any(a is not b for a, b in zip(rounds, self.seen)):
            self.best, self.seen = None, []
        for r in rounds[len(self.seen) :]:
            self.seen.append(r)
            if not r.complete:
                continue
            if self.best is None:
                self.best = r
                continue
            c = compare_rounds(r, self.best, self.confidence)
            if self.logger is not None:
                self.logger.info("round %d vs the best (round %d): %s", r.index, self.best.index, c)
            r.comparison = {"against": self.best.index, **c.fields()}
            if c.accepted:
                self.best = r
        if self.best is None and rounds:
            return max(rounds, key=lambda r: r.score)
        return self.best


def history_estimate(rounds: Sequence[RoundRecord[Any, Any]], window: int,
                     best: RoundRecord[Any, Any] | None = None) -> ImprovementEstimate:  # fmt: skip
    """No LLM: the chance that a round like the last ``window`` ones scores above ``best``
    (default: the best round by :class:`BestRound`), computed from the observed trial scores.

    Each recent round is compared with the best by a bootstrap of their trial scores
    (:func:`compare_rounds`); its chance is the share of resamples where its mean is higher,
    ties counted half. The estimate is their average: the next round is taken to be like a
    recent one. The best itself counts one half (a tie), so a search whose latest round is its
    best goes on, while recent rounds that all fall short -- beyond what their noise explains --
    drive the chance towards 0.

    >>> from optimizers.meta.records import Trial
    >>> def rnd(i, scores):
    ...     return RoundRecord(i, None, list(range(len(scores))), [Trial(i, j, None, "", s) for j, s in enumerate(scores)],
    ...                        sum(scores) / len(scores))
    >>> flat = [rnd(0, [0.5, 0.4, 0.6]), rnd(1, [0.4, 0.5, 0.6]), rnd(2, [0.6, 0.4, 0.5])]   # noise only
    >>> worse = [rnd(0, [0.9, 0.8, 0.9]), rnd(1, [0.2, 0.1, 0.3]), rnd(2, [0.3, 0.2, 0.1])]  # clearly short
    >>> round(history_estimate(flat, 3).probability, 2), round(history_estimate(worse, 3).probability, 2)
    (0.5, 0.17)
    """
    best = best if best is not None else BestRound(CONFIDENCE, logger=None).update(rounds)
    if best is None:
        return ImprovementEstimate(1.0, "nothing tried yet")
    recent = list(rounds[-window:])
    chances = []
    for r in recent:
        if r is best:
            chances.append(0.5)
            continue
        c = compare_rounds(r, best, 0.0)
        chances.append(c.probability + c.ties / 2)
    p = sum(chances) / len(chances)
    return ImprovementEstimate(p, f"a round like the last {len(recent)} scores above the best ({best.score:.4g}) "
                                  f"with probability {p:.2f} (bootstrap of the trial scores, {RESAMPLES} resamples)")  # fmt: skip


def _too_short(rounds: Sequence[RoundRecord[Any, Any]], window: int, best: RoundRecord[Any, Any]) -> str | None:
    """Why the history cannot support a bootstrap estimate yet, or None when it can."""
    done = [r for r in rounds if r.complete]
    if len(done) < MIN_ROUNDS:
        return f"{len(done)} complete round(s), fewer than {MIN_ROUNDS}"
    few = [r.index for r in [best, *rounds[-window:]] if len(r.trials) < MIN_TRIALS]
    if few:
        return f"round {few[0]} has fewer than {MIN_TRIALS} task scores"
    return None


def choose_source(estimator: Estimator, rounds: Sequence[RoundRecord[Any, Any]], window: int,
                  best: RoundRecord[Any, Any]) -> tuple[Literal["llm", "history"], str]:  # fmt: skip
    """Which estimate the stop rule uses, and why: ``"history"`` (:func:`history_estimate`) or ``"llm"``.

    ``"auto"`` takes the history once it holds :data:`MIN_ROUNDS` complete rounds and the best
    and recent rounds each have :data:`MIN_TRIALS` task scores; before that the bootstrap has
    too little to resample and the LLM, which also reads the reflections, estimates.
    """
    if estimator != "auto":
        return estimator, f"estimate={estimator!r}"
    short = _too_short(rounds, window, best)
    return ("llm", f"history too short for a bootstrap: {short}") if short else ("history", "enough task scores")


def round_text(r: RoundRecord[Any, Any], best: RoundRecord[Any, Any] | None) -> str:
    """One round's score with its noise, and its bootstrap comparison with ``best``.

    >>> from optimizers.meta.records import Trial
    >>> a = RoundRecord(0, None, [1, 2], [Trial(0, 1, None, "", 0.5), Trial(0, 2, None, "", 1.0)], 0.75)
    >>> b = RoundRecord(1, None, [1, 2], [Trial(1, 1, None, "", 0.0), Trial(1, 2, None, "", 1.0)], 0.5)
    >>> print(round_text(b, a))
    round 1: score 0.500 ± 0.500 [0.000, 1.000] n=2; vs the best (round 0): mean diff -0.250 over 2 paired scores, P(higher mean) 0.00
    """
    line = f"round {r.index}: score {describe(r.score, r.score_se, r.score_ci, len(r.trials) or None)}"
    if best is not None and r is not best:
        c = compare_rounds(r, best, 0.0)
        kind = "paired" if c.paired else "unpaired"
        line += (f"; vs the best (round {best.index}): mean diff {c.diff:+.3f} over {c.n} {kind} scores, "
                 f"P(higher mean) {c.probability:.2f}")  # fmt: skip
    return line


def estimate_improvement(
    estimator: Estimator, rounds: Sequence[RoundRecord[Any, Any]], window: int, best: RoundRecord[Any, Any],
    ask_llm: Callable[[str], ImprovementEstimate],
) -> tuple[ImprovementEstimate, str]:
    """The chance of improvement from the source :func:`choose_source` picks, and that source;
    ``ask_llm(statistics)`` asks the LLM with :func:`statistics_text` in its prompt."""
    source, why = choose_source(estimator, rounds, window, best)
    log.info("round %d: improvement probability from the %s (%s)", rounds[-1].index, source, why)
    if source == "history":
        return history_estimate(rounds, window, best), source
    return ask_llm(statistics_text(rounds, window, best)), source


def statistics_text(rounds: Sequence[RoundRecord[Any, Any]], window: int, best: RoundRecord[Any, Any]) -> str:
    """What the estimate prompt is told about the noise: each recent round by :func:`round_text`,
    and the bootstrap chance of improvement (or why there is none). Deterministic: the bootstrap
    is seeded and the numbers are rounded, so the prompt (a cache key) repeats."""
    lines = [round_text(r, best) for r in rounds[-window:]]
    short = _too_short(rounds, window, best)
    if short:
        lines.append(f"no bootstrap chance of improvement: {short}, too few to resample")
    else:
        lines.append(f"bootstrap chance that a round like these beats the best: "
                     f"{history_estimate(rounds, window, best).probability:.2f}")  # fmt: skip
    return "\n".join(lines)
