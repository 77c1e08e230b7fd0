"""k proposals per step, and the candidates (parameter sets) a search keeps.

``propose_k`` composes on the optimizer's own ``propose()``: each sample's calls carry a
distinct ``sample=`` in their sample identity (and are made by a shallow copy of the optimizer
with the sampling temperature), so the k replies are independent samples -- also through the
cache, which keys on the identity -- and each is read, checked and constrained exactly as a single step's reply
would be (on the local model: decoded under the JSON schema, so every value has its
parameter's type and constraint). Nothing is changed: like ``propose``, it only returns.
"""

from __future__ import annotations

import contextlib
import copy
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from trace_opt import ParameterNode, execution
from trace_opt.errors import BudgetExceeded
from trace_opt.llm import track_usage

from ..ask import sample_identity
from ..base import Optimizer
from ..failures import SKIPPABLE, skip_reason
from ..proposal import Proposal, jsonable
from .budget import Clock

__all__ = ["Candidate", "propose_k"]

log = logging.getLogger("optimizers.search")


@dataclass(eq=False)
class Candidate:
    """One parameter set: its values (in the optimizer's parameter order) and its scores.

    ``scores`` maps an example's index in the dataset to the latest score the candidate got
    on it; ``mean`` is their mean, the estimate searches rank by. ``pareto`` holds the scores on
    GEPA's Pareto set, ``val_score`` the validation score when a valset is given (``val_scores``
per example, for paired comparisons).

    >>> c = Candidate(0, (1.5,))
    >>> c.record({3: 0.5, 4: 1.0}); c.mean, c.n
    (0.75, 2)
    """

    id: int
    values: tuple[Any, ...]
    parent: int | None = None
    step: int = 0
    scores: dict[int, float] = field(default_factory=dict)
    pareto: tuple[float, ...] | None = None
    val_score: float | None = None
    val_scores: tuple[float, ...] | None = None
    expansions: int = 0

    @property
    def key(self) -> str:
        """Equal for equal values (used to drop duplicates)."""
        return repr(self.values)

    @property
    def n(self) -> int:
        """How many distinct examples the candidate was scored on."""
        return len(self.scores)

    @property
    def mean(self) -> float:
        """Mean score over the examples seen (``-inf`` before any)."""
        return sum(self.scores.values()) / len(self.scores) if self.scores else float("-inf")

    def record(self, scores: dict[int, float]) -> None:
        """Add (or refresh) scores on examples, by dataset index."""
        self.scores.update(scores)

    def named(self, params: Sequence[ParameterNode[Any]]) -> dict[str, Any]:
        """``{parameter name: value}`` made JSON-ready, for logs."""
        return {p.py_name: jsonable(v) for p, v in zip(params, self.values)}


def _sampler(optimizer: Optimizer, temperature: float | None, max_reasks: int | None) -> Optimizer:
    """A shallow copy of ``optimizer`` whose every LLM call samples at ``temperature`` and re-asks
    at most ``max_reasks`` times (``None``: as the optimizer's groups say).

    The copy shares parameters, state and memory with the original, which ``propose`` only
    reads.
    """
    extra: dict[str, Any] = {} if temperature is None else {"temperature": temperature}
    clone = copy.copy(optimizer)
    clone.param_groups = [
        {**g, "llm_params": {**(g.get("llm_params") or {}), **extra},
         **({} if max_reasks is None else {"max_reasks": max_reasks})}
        for g in optimizer.param_groups
    ]  # fmt: skip
    return clone


def _one(optimizer: Optimizer, sample: int, temperature: float | None, max_reasks: int | None,
         clock: Clock | None) -> Proposal:  # fmt: skip
    """One sample; a failed one (unreadable reply, LLM error) becomes an empty proposal noting why."""
    with track_usage() as usage, sample_identity(sample=sample):
        try:
            with clock.timed("propose") if clock is not None else contextlib.nullcontext():
                proposal = _sampler(optimizer, temperature, max_reasks).propose()
        except SKIPPABLE as e:
            if (reason := skip_reason(e)) is None:
                raise
            log.info("sample %d failed: %s", sample, reason)
            proposal = Proposal()
            proposal.details["unreadable"] = reason
    proposal.tokens, proposal.cost, proposal.calls = usage.total_tokens, usage.cost, usage.calls
    proposal.details["sample_id"] = sample
    return proposal


def propose_k(
    optimizer: Optimizer,
    k: int,
    *,
    temperature: float | None = None,
    first_sample: int = 0,
    concurrency: int = 1,
    clock: Clock | None = None,
    max_reasks: int | None = None,
) -> list[Proposal]:
    """``k`` independent proposals (samples ``first_sample`` ... ``first_sample + k - 1``).

    Call after ``backward`` as you would ``propose``; nothing is changed. Each sample's calls
    carry ``sample=<i>`` in their sample identity (see ``optimizers.ask``). ``max_reasks``
    overrides the optimizer's re-asks per sample (search trainers pass 0: a fresh sample is
    as good as a repaired one, and costs one call). A sample whose reply cannot be read, or
    whose LLM call failed for a reason that concerns only it (``optimizers.failures``), is an
    empty ``Proposal`` with the reason in ``details["unreadable"]``. When a budget runs
    out the proposals made so far are returned (fewer than ``k``); if none was made, the
    ``BudgetExceeded`` is raised. Each proposal's ``details["sample_id"]`` names its sample.

    >>> import json, random
    >>> import trace_opt as trace
    >>> from trace_opt.llm import FunctionLLM
    >>> from optimizers import OptoPrime
    >>> x = trace.node(0, trainable=True, name="x")
    >>> def sampler(messages, sample_id, **kw):
    ...     n = random.Random(sample_id).randint(1, 100)
    ...     return json.dumps({"reasoning": "", "suggestion": {"x": n}})
    >>> opt = OptoPrime([x], llm=FunctionLLM(sampler))
    >>> opt.zero_feedback(); opt.backward(x * 1, "should be 42")
    >>> [p[x] for p in propose_k(opt, 3)], x.data
    ([50, 18, 8], 0)
    """
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"Invalid k: {k!r}\nhelp: pass the number of candidates, an int >= 1")
    if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
        raise ValueError(f"Invalid concurrency: {concurrency!r}\nhelp: pass an int >= 1")
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"Invalid optimizer: {optimizer!r:.80}\nhelp: pass an optimizers.Optimizer (OptoPrime(...))")
    ids = list(range(first_sample, first_sample + k))
    results = execution.map(lambda i: _one(optimizer, i, temperature, max_reasks, clock), ids, concurrency=concurrency,
                            return_exceptions=True, executor="thread")  # the optimizer's calls stay here  # fmt: skip
    proposals: list[Proposal] = []
    stopped: BudgetExceeded | None = None
    for result in results:
        if isinstance(result, BudgetExceeded):
            stopped = stopped or result
        elif isinstance(result, BaseException):
            raise result
        else:
            proposals.append(result)
    if stopped is not None and not proposals:
        raise stopped
    return proposals
