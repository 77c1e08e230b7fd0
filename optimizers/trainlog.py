"""``TrainLog``: the records ``train`` returns -- a list of dicts that prints as a table."""

from __future__ import annotations

from typing import Any, ClassVar

__all__ = ["RecordTable", "TrainLog"]

_COLUMNS = [
    ("step", "step"),
    ("epoch", "epoch"),
    ("batch_score", "batch"),
    ("score", "score"),
    ("best", "best"),
    ("tokens", "tokens"),
    ("cost", "cost $"),
    ("changed", "changed"),
    ("note", "note"),
]


def _cell(key: str, value: Any) -> str:
    if value is None or value == "" or value == []:
        return "-"
    if key == "cost":
        return f"{value:.4f}"
    if isinstance(value, float):
        return f"{value:.3f}"
    if isinstance(value, (list, tuple)):
        text = ", ".join(map(str, value))
        return text if len(text) <= 40 else text[:37] + "..."
    text = str(value)
    return text if len(text) <= 48 else text[:45] + "..."


class RecordTable(list[dict[str, Any]]):
    """A list of records that prints as an aligned table of ``columns`` (``(key, title)``
    pairs), each value drawn by ``cell(key, value)``: the shape of every log trainers return."""

    columns: ClassVar[list[tuple[str, str]]] = _COLUMNS

    @staticmethod
    def cell(key: str, value: Any) -> str:
        """One value as table text."""
        return _cell(key, value)

    def table(self) -> str:
        """The records as an aligned text table."""
        rows = [[title for _, title in self.columns]]
        rows += [[self.cell(key, r.get(key)) for key, _ in self.columns] for r in self]
        widths = [max(len(row[i]) for row in rows) for i in range(len(self.columns))]
        return "\n".join("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in rows)

    def __str__(self) -> str:
        return self.table()


class TrainLog(RecordTable):
    """One record per step (``step``, ``epoch``, ``batch_score``, ``score``, ``best``, ``tokens``,
    ``cost``, ``changed``, ``rejected``, ``note``; ``score_se``, ``score_ci``, ``score_n`` for the
    score's standard error, 95% bootstrap interval and examples, and ``comparison`` when the
    scored parameters were compared with the best -- absent from logs of older runs); ``str()``
    is a table.

    >>> log = TrainLog([{"step": 0, "score": 0.5, "best": 0.5, "tokens": 0, "cost": 0.0}])
    >>> print(log)
    step  epoch  batch  score  best   tokens  cost $  changed  note
    0     -      -      0.500  0.500  0       0.0000  -        -
    """

    @property
    def best_score(self) -> float | None:
        """The best score seen (``None`` before any evaluation)."""
        scores = [r["score"] for r in self if isinstance(r.get("score"), (int, float))]
        return max(scores) if scores else None

    @property
    def tokens(self) -> int:
        """Tokens spent by the whole run (forwards, feedback, steps and evaluations)."""
        return sum(int(r.get("tokens") or 0) for r in self)

    @property
    def cost(self) -> float:
        """Dollars spent by the whole run (0.0 when the backends report no prices)."""
        return sum(float(r.get("cost") or 0.0) for r in self)
