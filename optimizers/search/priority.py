"""Priority search: a frontier of parameter sets, the most promising expanded first.

Each step draws a minibatch and expands the ``num_parents`` candidates of highest priority:
mean score plus an exploration bonus ``exploration * sqrt(ln(1 + expansions so far) /
(1 + expansions of this candidate))`` (UCB), so a good candidate is refined again and again
but one expanded often gives way to less-tried ones. Children join the frontier, which keeps
the ``frontier_size`` best by mean score. Parents are re-scored on every minibatch they are
expanded on, so a candidate that was lucky once sinks back. The frontier is ranked by mean
score (where to look next); which candidate is the best is decided by paired comparison
(``optimizers.search.best``).
"""

from __future__ import annotations

import math
from typing import Any

from .candidates import Candidate
from .run import SearchRun
from .trainer import SearchTrainer, _int

__all__ = ["PrioritySearch"]


class PrioritySearch(SearchTrainer):
    """Expand the highest-priority candidates of a bounded frontier (score + exploration bonus).

    >>> import json, random
    >>> import trace_opt as trace
    >>> from trace_opt.llm import FunctionLLM
    >>> from optimizers import OptoPrime
    >>> x = trace.node(0, trainable=True, name="x")
    >>> def guess(messages, sample_id, **kw):
    ...     return json.dumps({"reasoning": "", "suggestion": {"x": random.Random(sample_id).randint(0, 100)}})
    >>> search = PrioritySearch(k=4, exploration=0.0)
    >>> log = search.train(lambda _: x * 1, [(None, 42)], lambda _, y, want: -abs(y - want),
    ...                    OptoPrime([x], llm=FunctionLLM(guess)), steps=4)
    >>> x.data, log.best_score
    (41, -1.0)
    """

    def __init__(self, *, num_parents: int = 1, frontier_size: int = 16, exploration: float = 0.5,
                 **options: Any) -> None:  # fmt: skip
        super().__init__(**options)
        _int("num_parents", num_parents, 1)
        _int("frontier_size", frontier_size, 1)
        if isinstance(exploration, bool) or not isinstance(exploration, (int, float)) or not exploration >= 0:
            raise ValueError(f"Invalid exploration: {exploration!r}\nhelp: pass a number >= 0 (0: always the best)")
        self.num_parents = num_parents
        self.frontier_size = frontier_size
        self.exploration = float(exploration)

    def priority(self, c: Candidate, total: int) -> float:
        """Mean score plus the exploration bonus (unscored candidates first)."""
        if not c.scores:
            return math.inf
        return c.mean + self.exploration * math.sqrt(math.log(1 + total) / (1 + c.expansions))

    def _search(self, run: SearchRun, steps: int) -> None:
        frontier: list[Candidate] = [run.root()]
        expansions = 0
        for _ in range(steps):
            run.step += 1
            batch = run.next_batch()
            ranked = sorted(frontier, key=lambda c: (-self.priority(c, expansions), c.id))
            parents = ranked[: self.num_parents]
            new: list[Candidate] = []
            for parent in parents:
                new += [c for c in run.expand(parent, batch, self.k) if c not in new and c not in parents]
                expansions += 1
            frontier = sorted(set(frontier + new), key=lambda c: (-c.mean, c.id))[: self.frontier_size]
            run.consider(*(c for c in parents + new if c.scores and c.mean >= max(p.mean for p in parents)))
            run.rerank_best()
            top = max(parents + new, key=lambda c: run.batch_score(c, batch))
            note = f"expanded {[p.id for p in parents]}"
            if run.end_step(note, batch_score=run.batch_score(top, batch), candidates=len(new)):
                return
