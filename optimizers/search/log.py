"""What a search returns: the per-step records of ``TrainLog`` plus every candidate it tried.

``SearchLog`` is a ``TrainLog`` (one record per step, printable as a table) with
``.candidates``, a ``CandidateLog`` holding one record per candidate -- also the duplicates and
the unreadable samples -- with its parent, values, score and what its proposal cost.
"""

from __future__ import annotations

import json
from typing import Any

from ..trainlog import RecordTable, TrainLog

__all__ = ["CandidateLog", "SearchLog"]

_COLUMNS = [
    ("id", "id"),
    ("parent", "parent"),
    ("step", "step"),
    ("status", "status"),
    ("batch_score", "batch"),
    ("score", "mean"),
    ("n", "n"),
    ("calls", "calls"),
    ("tokens", "tokens"),
    ("values", "values"),
]


def _cell(key: str, value: Any) -> str:
    if value is None or value == "":
        return "-"
    if isinstance(value, float):
        return f"{value:.3f}"
    text = json.dumps(value, ensure_ascii=False) if key == "values" else str(value)
    return text if len(text) <= 60 else text[:57] + "..."


class CandidateLog(RecordTable):
    """One record per candidate: ``id``, ``parent``, ``step``, ``sample`` (the sample id that
    proposed it), ``status`` (``initial``, ``scored``, ``duplicate``, ``unchanged``,
    ``unreadable``), ``batch_score`` (on the minibatch it was proposed for), ``score`` (mean over
    every example it was scored on, with ``score_se`` and ``score_ci``), ``n``, ``calls``/``tokens``
    of its proposal, ``values`` (``{name: value}``), ``reasoning`` and ``comparison`` (with its
    parent on the minibatch: ``optimizers.accept``).

    >>> log = CandidateLog([{"id": 0, "step": 0, "status": "initial", "score": 0.25, "n": 4,
    ...                      "values": {"x": 1}}])
    >>> print(log)
    id  parent  step  status   batch  mean   n  calls  tokens  values
    0   -       0     initial  -      0.250  4  -      -       {"x": 1}
    >>> log.scored()[0]["id"]
    0
    """

    columns = _COLUMNS

    @staticmethod
    def cell(key: str, value: Any) -> str:
        return _cell(key, value)

    def scored(self) -> list[dict[str, Any]]:
        """The records of candidates that were evaluated, best mean score first."""
        done = [r for r in self if isinstance(r.get("score"), (int, float))]
        return sorted(done, key=lambda r: -r["score"])


class SearchLog(TrainLog):
    """Per-step records (a ``TrainLog``) plus ``candidates``, ``best_values`` (``{name: value}``
    of the parameters kept), ``calls`` (provider calls of the whole run), ``stop`` (why the
    search ended) and, for ``GEPA``, ``front`` (``{candidate id: values}`` of the Pareto front).

    >>> log = SearchLog([{"step": 1, "score": 0.5, "best": 0.5}])
    >>> log.best_score, log.stop, len(log.candidates)
    (0.5, '', 0)
    """

    def __init__(self, records: Any = ()) -> None:
        super().__init__(records)
        self.candidates = CandidateLog()
        self.best_values: dict[str, Any] = {}
        self.calls = 0
        self.stop = ""
        self.front: dict[int, dict[str, Any]] = {}
