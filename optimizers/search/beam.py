"""Beam search (and best-of-k, its width-1 case): expand every beam member, keep the best b.

Each step draws one minibatch; every member of the beam is run on it (which refreshes its
score), proposes k children, and each child is scored on the same minibatch -- so all the
candidates compared in a step were judged on the same examples. The ``beam_width`` best of
members and children by that minibatch score (ties: the mean over every example seen) form
the next beam -- but a child ranks above the members only if a paired comparison on that
minibatch shows it better than its parent (``SearchRun.beats``). With ``beam_width=1`` it is
best-of-k: a step keeps the parent unless a child is shown better, so it does not accept a
worse candidate, nor one that is only luckier on this minibatch.
"""

from __future__ import annotations

from typing import Any

from .candidates import Candidate
from .run import SearchRun
from .trainer import SearchTrainer, _int

__all__ = ["BeamSearch"]


class BeamSearch(SearchTrainer):
    """Keep the ``beam_width`` best parameter sets; expand each into ``k`` candidates per step.

    >>> import json, random
    >>> import trace_opt as trace
    >>> from trace_opt.llm import FunctionLLM
    >>> from optimizers import OptoPrime
    >>> x = trace.node(0, trainable=True, name="x")
    >>> def guess(messages, sample_id, **kw):           # a model that guesses at random
    ...     return json.dumps({"reasoning": "", "suggestion": {"x": random.Random(sample_id).randint(0, 100)}})
    >>> def feedback(_, y, want):
    ...     return -abs(y - want), f"{y} is {'too small' if y < want else 'too large'}"
    >>> log = BeamSearch(k=8, beam_width=1).train(lambda _: x * 1, [(None, 42)], feedback,
    ...                                           OptoPrime([x], llm=FunctionLLM(guess)), steps=3)
    >>> x.data, log.best_score, len(log.candidates)
    (41, -1.0, 25)
    """

    def __init__(self, *, beam_width: int = 2, **options: Any) -> None:
        super().__init__(**options)
        _int("beam_width", beam_width, 1)
        self.beam_width = beam_width

    def _search(self, run: SearchRun, steps: int) -> None:
        beam: list[Candidate] = [run.root()]
        for _ in range(steps):
            run.step += 1
            batch = run.next_batch()
            pool: list[Candidate] = []
            shown: set[int] = set()  # the members, and children shown better than their parent
            for parent in beam:
                children = run.expand(parent, batch, self.k)
                shown.add(parent.id)
                shown.update(c.id for c in children if c not in beam and run.beats(c, parent, batch))
                pool += [c for c in (parent, *children) if c not in pool]
            beam = sorted(pool, key=lambda c: (c.id not in shown, -run.batch_score(c, batch), -c.mean, c.id))
            beam = beam[: self.beam_width]
            run.consider(*beam)
            run.rerank_best()
            note = f"beam {[c.id for c in beam]}"
            if run.end_step(note, batch_score=run.batch_score(beam[0], batch), candidates=len(pool) - len(beam)):
                return
