"""What a run report shows, as plain typed data -- so the report never imports ``optimizers``.

A training loop's log is a list of dicts (``optimizers.TrainLog`` / ``SearchLog`` are lists of
dicts); ``steps_from_log`` reads the keys it knows and ignores the rest, so any loop that
logs ``step`` / ``score`` / ``tokens`` can have a report.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["ReportData", "StepRecord", "steps_from_log"]


@dataclass(frozen=True)
class StepRecord:
    """One training step as the report draws it.

    ``score`` is the step's score (higher is better), ``best`` the best so far; ``values`` the
    parameter values kept after the step (``{name: value}``), from which the report computes
    the step's diff; ``feedback`` the feedback texts the optimizer read; ``reasoning`` what it
    answered.

    >>> StepRecord(1, score=0.5, tokens=120, changed=("prompt",)).changed
    ('prompt',)
    """

    step: int
    score: float | None = None
    best: float | None = None
    tokens: int = 0
    cost: float = 0.0
    seconds: float | None = None
    changed: tuple[str, ...] = ()
    note: str = ""
    feedback: tuple[str, ...] = ()
    reasoning: str = ""
    values: Mapping[str, Any] | None = None
    candidates: tuple[str, ...] = ()
    score_se: float | None = None
    score_ci: tuple[float, float] | None = None
    score_n: int | None = None


@dataclass(frozen=True)
class ReportData:
    """Everything one report page shows.

    ``initial`` / ``final`` are the parameter values before and after training; ``graph_svg``
    (an ``<svg>`` document) or ``graph_dot`` (DOT source, shown as text when graphviz's ``dot``
    is missing) is the graph of the final step; ``meta`` is shown as a key/value table
    (model, run id, command...); ``seconds`` is the whole run's wall time (what a console
    reports), shown instead of the sum of the steps' times when given.

    >>> data = ReportData("demo", [StepRecord(1, score=1.0)], initial={"p": "a"}, final={"p": "b"})
    >>> data.steps[0].score, data.final
    (1.0, {'p': 'b'})
    """

    title: str
    steps: list[StepRecord]
    initial: Mapping[str, Any] = field(default_factory=dict)
    final: Mapping[str, Any] = field(default_factory=dict)
    graph_svg: str | None = None
    graph_dot: str | None = None
    meta: Mapping[str, Any] = field(default_factory=dict)
    seconds: float | None = None


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


def _texts(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,) if value else ()
    return tuple(str(v) for v in value if v is not None and str(v))


def _interval(value: Any) -> tuple[float, float] | None:
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        return None
    low, high = _number(value[0]), _number(value[1])
    return None if low is None or high is None or low > high else (low, high)


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def steps_from_log(records: Iterable[Mapping[str, Any]]) -> list[StepRecord]:
    """``StepRecord``\\ s from a training log: any iterable of dicts with ``step`` and optionally
    ``score``, ``best``, ``tokens``, ``cost``, ``seconds``, ``changed``, ``note``, ``feedback``,
    ``reasoning``, ``values``, ``candidates`` and the score's ``score_se``, ``score_ci``, ``score_n``.

    >>> [s.score for s in steps_from_log([{"step": 1, "score": 0.5}, {"step": 2, "score": 0.75}])]
    [0.5, 0.75]
    """
    out: list[StepRecord] = []
    for i, r in enumerate(records):
        if not isinstance(r, Mapping):
            raise TypeError(f"Invalid log record #{i}: {type(r).__name__}\nhelp: pass dicts with a 'step' key")
        step = r.get("step", i)
        values = r.get("values")
        out.append(StepRecord(
            step=int(step) if isinstance(step, (int, float)) and not isinstance(step, bool) else i,
            score=_number(r.get("score")),
            best=_number(r.get("best")),
            tokens=int(r.get("tokens") or 0),
            cost=_number(r.get("cost")) or 0.0,
            seconds=_number(r.get("seconds")),
            changed=_texts(r.get("changed")),
            note=str(r.get("note") or ""),
            feedback=_texts(r.get("feedback")),
            reasoning=str(r.get("reasoning") or ""),
            values=dict(values) if isinstance(values, Mapping) else None,
            candidates=_texts(r.get("candidates")),
            score_se=_number(r.get("score_se")),
            score_ci=_interval(r.get("score_ci")),
            score_n=_count(r.get("score_n")),
        ))  # fmt: skip
    return out
