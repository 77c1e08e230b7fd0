"""The best candidate of a search run: validating, comparing, committing (``SearchRun``'s
methods of the same names call these).

"Better" is decided by a paired comparison on the same examples (``optimizers.accept``),
never by one minibatch mean against another: with a valset, on the valset's per-example
scores; without one, on the examples both candidates were scored on. When the incumbent was
never scored on any of the candidate's examples (a frontier candidate expanded elsewhere),
it is scored on them first -- the same examples for both, at the cost of those forwards.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Sequence
from typing import Any, Protocol

from trace_opt import Module, ParameterNode
from trace_opt.stats import Summary, attach, summarize
from trace_opt.store import Store

from ..accept import decide, decide_by_example
from .candidates import Candidate

__all__ = ["beats", "better", "consider", "rank", "rerank_best", "save", "summary", "validate"]

log = logging.getLogger("optimizers.search")


class SearchRun(Protocol):
    """What these functions use of ``run.SearchRun`` (a protocol, so the two do not import each other)."""

    val: list[tuple[Any, Any]] | None
    opts: dict[str, Any]
    records: dict[int, dict[str, Any]]
    candidates: list[Candidate]
    best: Candidate | None
    _last_best: Candidate | None
    _verdicts: dict[tuple[Any, ...], bool]
    trainer: Any
    store: Store | None
    agent: Any
    params: list[ParameterNode[Any]]

    @property
    def step(self) -> int: ...
    def evaluate(self, c: Candidate, data: list[tuple[Any, Any]]) -> list[float]: ...
    def run_batch(self, c: Candidate, batch: Sequence[int], traced: bool) -> list[tuple[Any, float, str]]: ...
    def snapshot(self) -> tuple[Any, ...]: ...
    def apply(self, values: Sequence[Any]) -> None: ...


def validate(run: SearchRun, c: Candidate) -> None:
    """Score ``c`` on the valset once (no-op without a valset)."""
    if run.val is not None and c.val_scores is None:
        c.val_scores = tuple(run.evaluate(c, run.val))
        c.val_score = sum(c.val_scores) / len(c.val_scores)
        run.records[c.id].update(summarize(c.val_scores).fields("val_score"))


def rank(run: SearchRun, c: Candidate) -> float:
    """The best's score: the validation score with a valset, else the mean score."""
    if run.val is not None:
        return -math.inf if c.val_score is None else c.val_score
    return c.mean


def summary(run: SearchRun, c: Candidate) -> Summary | None:
    """Mean, standard error and bootstrap interval of what ``c`` is ranked by."""
    scores = c.val_scores if run.val is not None else tuple(c.scores.values())
    return summarize(scores) if scores else None


def beats(run: SearchRun, c: Candidate, other: Candidate, batch: Sequence[int]) -> bool:
    """Whether ``c`` is better than ``other`` on the minibatch both were just scored on."""
    verdict = decide([c.scores[i] for i in batch], [other.scores[i] for i in batch], logger=log,
                     confidence=run.opts["confidence"], what=f"step {run.step}: candidate {c.id} vs parent {other.id}")  # fmt: skip
    run.records[c.id]["comparison"] = {"vs": other.id, **verdict.fields()}
    return verdict.accepted


def _evidence(run: SearchRun, c: Candidate, best: Candidate, fill: bool) -> tuple[Any, Any, tuple[Any, ...]] | None:
    """``(c's scores, best's scores, key)`` to compare on (``None``: nothing to compare on)."""
    if run.val is not None:
        if c.val_scores is None or best.val_scores is None:
            return None
        mine: dict[int, float] = dict(enumerate(c.val_scores))
        theirs: dict[int, float] = dict(enumerate(best.val_scores))
    else:
        if not c.scores:
            return None
        if not any(i in best.scores for i in c.scores):
            if not fill:
                return None
            current = run.snapshot()
            run.run_batch(best, list(c.scores), traced=False)  # the same examples for both
            run.apply(current)
        mine, theirs = c.scores, best.scores
    return mine, theirs, (c.id, best.id, tuple(sorted((i, s, theirs[i]) for i, s in mine.items() if i in theirs)))


def better(run: SearchRun, c: Candidate, best: Candidate, fill: bool = True) -> bool:
    """Whether ``c`` should replace ``best`` (see the module docstring); the same evidence is
    judged (and logged) once. ``fill=False`` skips a candidate sharing no example with ``best``."""
    evidence = _evidence(run, c, best, fill)
    if evidence is None:
        return False
    mine, theirs, key = evidence
    if key not in run._verdicts:
        verdict = decide_by_example(mine, theirs, confidence=run.opts["confidence"], logger=log,
                                    what=f"step {run.step}: candidate {c.id} vs best {best.id}")  # fmt: skip
        run._verdicts[key] = verdict.accepted
    return run._verdicts[key]


def consider(run: SearchRun, *cs: Candidate, fill: bool = True) -> None:
    """Make a candidate of ``cs`` the run's best if it is shown better (validating them first)."""
    for c in cs:
        validate(run, c)
        if c is run.best or rank(run, c) == -math.inf:
            continue
        if run.best is None or better(run, c, run.best, fill):
            run.best = c
    if run.best is not None and run.best is not run._last_best:
        run._last_best = run.best
        save(run, run.best, f"{type(run.trainer).__name__} step {run.step}: score {rank(run, run.best):.4g}",
             summary(run, run.best))  # fmt: skip


def rerank_best(run: SearchRun) -> None:
    """Let re-scored candidates challenge the best (means change as candidates are re-scored)."""
    if run.val is None:
        consider(run, *(c for c in run.candidates if c.scores), fill=False)


def save(run: SearchRun, c: Candidate, message: str, scores: Summary | None = None) -> None:
    """Commit ``c``'s values (and the ``scores`` summary) to the store; write the checkpoint, if any."""
    checkpoint: str | os.PathLike[str] | None = run.opts["checkpoint"]
    if run.store is None and checkpoint is None:
        return
    current = run.snapshot()
    run.apply(c.values)
    try:
        if run.store is not None:
            target: Any = run.agent if isinstance(run.agent, Module) else run.params
            version = run.store.commit_parameters(target, message)
            if scores is not None:
                attach(run.store, version.digest, scores, step=run.step, candidate=c.id,
                       on="valset" if run.val is not None else "examples seen")  # fmt: skip
        if checkpoint is not None and isinstance(run.agent, Module):
            run.agent.save(checkpoint)
    finally:
        run.apply(current)
