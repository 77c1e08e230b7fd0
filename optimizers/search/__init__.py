"""Search-based training: sample k candidates per step, score them, keep the best.

One LLM suggestion per step (Trace's loop) fails with small or cheap models: the suggestion
is rarely better and a worse one is kept. These trainers ask for ``k`` independent proposals
(``propose_k``), score every candidate on a minibatch, and keep the best within a ``Budget``:

- ``BeamSearch``: the ``beam_width`` best parameter sets, each expanded every step
  (``beam_width=1`` is best-of-k);
- ``PrioritySearch``: a frontier ordered by score plus an exploration bonus;
- ``GEPA``: a per-example Pareto front of candidates, parents drawn from it.

>>> import json, random
>>> import trace_opt as trace
>>> from trace_opt.llm import FunctionLLM
>>> from optimizers import OptoPrime
>>> from optimizers.search import BeamSearch, Budget
>>> x = trace.node(0, trainable=True, name="x")
>>> llm = FunctionLLM(lambda m, sample_id, **kw: json.dumps(
...     {"reasoning": "", "suggestion": {"x": random.Random(sample_id).randint(0, 9)}}))
>>> log = BeamSearch(k=4).train(lambda _: x + 0, [(None, 7)], lambda _, y, want: float(y == want),
...                             OptoPrime([x], llm=llm), steps=10, budget=Budget(calls=12), target_score=1.0)
>>> x.data, log.calls, log.stop
(7, 12, 'target score reached')
"""

from __future__ import annotations

from .aggregate import Aggregate, aggregate_feedback
from .beam import BeamSearch
from .budget import Budget
from .candidates import Candidate, propose_k
from .log import CandidateLog, SearchLog
from .pareto import GEPA, pareto_front
from .priority import PrioritySearch
from .trainer import SearchTrainer

__all__ = [
    "Aggregate",
    "BeamSearch",
    "Budget",
    "Candidate",
    "CandidateLog",
    "GEPA",
    "PrioritySearch",
    "SearchLog",
    "SearchTrainer",
    "aggregate_feedback",
    "pareto_front",
    "propose_k",
]
