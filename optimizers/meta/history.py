"""The rounds so far: the best one (by paired comparison, ``evidence.BestRound``), the recent
ones shown in full, and a summary of the rest."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Generic

from trace_opt.errors import BudgetExceeded, ReplyParseError
from trace_opt.stats import CONFIDENCE

from .evidence import BestRound
from .records import H, P, RoundRecord, RoundView

__all__ = ["History"]

log = logging.getLogger("optimizers.meta")


class History(Generic[P, H]):
    """Every round, in order. Prompts see the last ``window`` rounds as they are and the older
    ones through ``summary``, which ``fold`` extends with the LLM as rounds leave the window.
    ``best`` replaces the best round only when a later one is better at ``confidence``.

    >>> h = History(window=2)
    >>> for i, s in enumerate([0.1, 0.5, 0.3]):
    ...     h.rounds.append(RoundRecord(i, None, [], [], s))
    >>> h.best.index, [v.index for v in h.recent()]
    (1, [1, 2])
    """

    def __init__(self, window: int, confidence: float = CONFIDENCE) -> None:
        if not isinstance(window, int) or isinstance(window, bool) or window < 1:
            raise ValueError(f"Invalid history_window: {window!r}\nhelp: pass an int >= 1")
        self.window = window
        self.rounds: list[RoundRecord[P, H]] = []
        self.summary = ""
        self.folded = 0  # how many of the first rounds the summary covers
        self._best = BestRound(confidence)

    def add(self, rec: RoundRecord[P, H]) -> None:
        """Append a round and judge it against the best (logged at INFO)."""
        self.rounds.append(rec)
        self._best.update(self.rounds)

    @property
    def best(self) -> RoundRecord[P, H] | None:
        """The best complete round: a later one replaced it only when a bootstrap of their task
        scores said it is better (``evidence.BestRound``)."""
        return self._best.update(self.rounds)

    def recent(self) -> list[RoundView[P, H]]:
        """The rounds the summary does not cover, at most ``window`` of them."""
        return [r.view() for r in self.rounds[max(self.folded, len(self.rounds) - self.window) :]]

    def fold(self, summarize: Callable[[str, list[RoundView[P, H]]], Any]) -> None:
        """Fold the rounds that left the window into the summary: ``summarize(previous, rounds)``."""
        end = len(self.rounds) - self.window
        if end <= self.folded:
            return
        old = self.rounds[self.folded : end]
        try:
            self.summary = str(summarize(self.summary, [r.view() for r in old]))
            self.folded = end
        except (ReplyParseError, BudgetExceeded) as e:  # the next fold tries again with more rounds
            log.warning("history not summarised: %s", str(e).splitlines()[0])
