"""GEPA-style search (Agrawal et al., 2025): a per-example Pareto front of candidates.

Every accepted candidate is scored on a fixed Pareto set (the valset, else up to
``pareto_size`` training examples). The front holds the candidates that are best -- ties
included -- on at least one example and that no other candidate dominates; a parent is drawn
from it with probability proportional to the number of examples it wins, so candidates that
solve *different* examples all stay alive instead of one average winner. A child is accepted
(scored on the Pareto set and added) only if a paired comparison on the minibatch it was
proposed for shows it better than its parent (``SearchRun.beats``). The best is the candidate with the highest mean on the Pareto set.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .candidates import Candidate
from .run import SearchRun
from .trainer import SearchTrainer, _int

__all__ = ["GEPA", "pareto_front"]


def pareto_front(scores: Mapping[int, Sequence[float]]) -> dict[int, int]:
    """``{candidate id: examples it wins}`` for the non-dominated per-example winners.

    >>> pareto_front({0: [1, 0, 0], 1: [0, 1, 0], 2: [1, 1, 0], 3: [0, 0, 0.5]})
    {2: 2, 3: 1}
    """
    if not scores:
        return {}
    widths = {len(s) for s in scores.values()}
    if len(widths) != 1:
        raise ValueError(f"Invalid scores: rows of lengths {sorted(widths)}\nhelp: score every candidate on the same examples")
    n = widths.pop()
    wins: dict[int, int] = {}
    for j in range(n):
        top = max(s[j] for s in scores.values())
        for cid, s in scores.items():
            if s[j] == top:
                wins[cid] = wins.get(cid, 0) + 1

    def dominated(a: int) -> bool:
        return any(b != a and all(x >= y for x, y in zip(scores[b], scores[a])) and list(scores[b]) != list(scores[a])
                   for b in wins)  # fmt: skip

    front = {cid: w for cid, w in wins.items() if not dominated(cid)}
    kept: dict[int, int] = {}
    seen: set[tuple[float, ...]] = set()
    for cid in sorted(front):  # of candidates with identical scores keep the oldest
        row = tuple(scores[cid])
        if row not in seen:
            seen.add(row)
            kept[cid] = front[cid]
    return kept


class GEPA(SearchTrainer):
    """Reflective proposals on minibatches, selection from a per-example Pareto front.

    >>> import json, random
    >>> import trace_opt as trace
    >>> from trace_opt.llm import FunctionLLM
    >>> from optimizers import OptoPrime
    >>> x = trace.node(0, trainable=True, name="x")
    >>> def guess(messages, sample_id, **kw):
    ...     return json.dumps({"reasoning": "", "suggestion": {"x": random.Random(sample_id).randint(0, 9)}})
    >>> data = [(None, 3), (None, 5)]                         # no x is right for both
    >>> log = GEPA(k=4).train(lambda _: x * 1, data, lambda _, y, want: float(y == want),
    ...                       OptoPrime([x], llm=FunctionLLM(guess)), steps=4, batch_size=1)
    >>> sorted(v[x.py_name] for v in log.front.values())         # one winner per example
    [3, 5]
    """

    def __init__(self, *, pareto_size: int = 16, **options: Any) -> None:
        super().__init__(**options)
        _int("pareto_size", pareto_size, 1)
        self.pareto_size = pareto_size

    def _search(self, run: SearchRun, steps: int) -> None:
        data = run.val if run.val is not None else run.examples[: self.pareto_size]
        pool: dict[int, Candidate] = {}

        def accept(c: Candidate) -> None:
            run.validate(c)  # scores it on run.val, the Pareto set
            c.pareto = c.val_scores
            pool[c.id] = c

        def front() -> dict[int, int]:
            return pareto_front({cid: c.pareto or () for cid, c in pool.items()})

        run.val = data  # "best" is the mean on the Pareto set
        accept(root := run.root())
        run.consider(root)
        for _ in range(steps):
            run.step += 1
            wins = front()
            ids = sorted(wins)
            parent = pool[run.rng.choices(ids, weights=[wins[i] for i in ids])[0]]
            batch = run.next_batch()
            children = run.expand(parent, batch, self.k)
            better = [c for c in children if c.id not in pool and run.beats(c, parent, batch)]
            for c in better:
                accept(c)
            run.consider(*better)
            run.log.front = {cid: pool[cid].named(run.params) for cid in front()}
            note = f"parent {parent.id}, accepted {[c.id for c in better]}, front {sorted(front())}"
            if run.end_step(note, batch_score=max(run.batch_score(c, batch) for c in [parent, *children]),
                            candidates=len(children)):  # fmt: skip
                return
