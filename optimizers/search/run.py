"""The state of one search run and the moves every search is made of.

``expand(parent, batch)`` is the step all trainers share: run the parent's parameters on the
minibatch with tracing, send back the aggregated feedback, ask for k proposals, and score each
new candidate on the same minibatch (without tracing, examples in parallel). Candidates are
scored one after the other, since they share the parameter nodes. The run also keeps the
candidate log, the best candidate (``best.KeepsBest``: by validation score with a valset, else
by mean score over the examples seen, replaced only when a paired comparison says so), the
store commits, and the per-step records -- each with its score's standard error and interval.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import random
from collections.abc import Callable, Sequence
from typing import Any

from trace_opt import Node, ParameterNode, execution, stop_tracing
from trace_opt.llm import UsageTracker
from trace_opt.stats import Summary, describe, summarize
from trace_opt.store import Store, active_store

from ..bars import StepBar
from ..base import Optimizer
from ..data import Judge, examples, run_example
from ..observe import ObservedSteps, TrainingRun
from ..proposal import Proposal
from . import best as _best
from .aggregate import aggregate_feedback
from .budget import Clock
from .candidates import Candidate, propose_k
from .log import SearchLog
from .options import SearchOptions

__all__ = ["SearchRun"]

log = logging.getLogger("optimizers.search")


def _same(a: Any, b: Any) -> bool:
    return type(a) is type(b) and a == b


class SearchRun(ObservedSteps):
    """One run of a ``SearchTrainer``: data, candidates, best, log and budget (internal)."""

    bar = StepBar("search", None, enabled=False)  # the trainer sets the run's own (verbose=True)

    def __init__(self, trainer: SearchOptions, agent: Callable[[Any], Any], dataset: Any, feedback_fn: Judge,
                 optimizer: Optimizer, opts: dict[str, Any]) -> None:  # fmt: skip
        self.trainer, self.agent, self.feedback_fn, self.optimizer = trainer, agent, feedback_fn, optimizer
        self.params: list[ParameterNode[Any]] = optimizer.parameters
        self.examples = examples(dataset, "dataset")
        self.val = examples(opts["valset"], "valset") if opts["valset"] is not None else None
        self.scorer: Judge = opts["eval_fn"] or feedback_fn
        self.opts = opts
        self.rng = random.Random(opts["seed"])
        self.store: Store | None = opts["store"] if opts["store"] is not None else active_store()
        self.log = SearchLog()
        self.candidates: list[Candidate] = []
        self.records: dict[int, dict[str, Any]] = {}
        self.by_key: dict[str, Candidate] = {}
        self.best: Candidate | None = None
        self.observers: TrainingRun | None = None
        self._step = self.epoch = 0
        self.next_sample = 0
        self.stale = 0
        self.stop = ""
        self.usage: UsageTracker | None = None
        self.clock = Clock(None)
        self._order: list[int] = []
        self._spent = (0, 0, 0.0)
        self._last_best: Candidate | None = None
        self._verdicts: dict[tuple[Any, ...], bool] = {}  # comparisons already judged (and logged)
        self.proposed, self.failures = 0, list[str]()  # proposals asked for this step; reasons of failed ones

    # -- data ------------------------------------------------------------------------------

    def next_batch(self) -> list[int]:
        """Indices of the next minibatch (a fresh shuffle each epoch)."""
        size = self.opts["batch_size"]
        if len(self._order) < size:
            order = list(range(len(self.examples)))
            if self.opts["shuffle"]:
                self.rng.shuffle(order)
            self.epoch += 1
            self._order += [i for i in order if i not in self._order]
        batch, self._order = self._order[:size], self._order[size:]
        return batch

    # -- candidates ------------------------------------------------------------------------

    def apply(self, values: Sequence[Any]) -> None:
        """Set the parameters to ``values`` (the run's own past values or checked proposals)."""
        for p, v in zip(self.params, values):
            if not _same(v, p.data):
                p._set(v)

    def snapshot(self) -> tuple[Any, ...]:
        return tuple(copy.deepcopy(p.data) for p in self.params)

    def new(self, values: tuple[Any, ...], parent: Candidate | None, status: str, proposal: Proposal | None) -> Candidate:
        c = Candidate(len(self.candidates), values, None if parent is None else parent.id, self.step)
        self.candidates.append(c)
        self.by_key.setdefault(c.key, c)
        record = {"id": c.id, "parent": c.parent, "step": self.step, "status": status, "batch_score": None,
                  "score": None, "n": 0, "values": c.named(self.params)}  # fmt: skip
        if proposal is not None:
            record.update(sample=proposal.details.get("sample_id"), calls=proposal.calls, tokens=proposal.tokens,
                          reasoning=str(proposal.reasoning)[:300], note=proposal.details.get("unreadable", ""))  # fmt: skip
        self.records[c.id] = record
        self.log.candidates.append(record)
        return c

    def root(self) -> Candidate:
        """The candidate of the parameters' current values."""
        return self.new(self.snapshot(), None, "initial", None)

    def child(self, parent: Candidate, proposal: Proposal) -> Candidate | None:
        """The candidate ``proposal`` makes of ``parent``: a new one, or the known candidate it
        repeats (logged as a ``duplicate`` of it); ``None`` if unreadable or unchanged."""
        values = tuple(proposal.get(p, v) for p, v in zip(self.params, parent.values))
        known = self.by_key.get(repr(values))
        status = "scored"
        if "unreadable" in proposal.details:
            status = "unreadable"
        elif all(_same(a, b) for a, b in zip(values, parent.values)):
            status = "unchanged"
        elif known is not None:
            status = "duplicate"
        c = self.new(values, parent, status, proposal)
        if status == "duplicate":
            self.records[c.id]["note"] = f"same as candidate {known.id}"  # type: ignore[union-attr]
            return known
        return c if status == "scored" else None

    # -- scoring ---------------------------------------------------------------------------

    def run_batch(self, c: Candidate, batch: Sequence[int], traced: bool) -> list[tuple[Any, float, str]]:
        """Run ``c``'s parameters on examples ``batch`` and record the scores on ``c``."""
        self.apply(c.values)
        fn, fail = self.feedback_fn, self.opts["failure_score"]
        with self.clock.timed("evaluate"), contextlib.nullcontext() if traced else stop_tracing():
            results = execution.map(lambda i: run_example(self.agent, fn, self.examples[i], fail), batch,
                                    concurrency=self.opts["concurrency"])  # fmt: skip
        for (x, _), (_, score, _) in zip((self.examples[i] for i in batch), results):
            if score is None:
                raise ValueError(
                    f"Invalid feedback for input {x!r:.60}: it has no score\n"
                    "help: search trainers rank candidates by score; return (score, text) from feedback_fn"
                )
        c.record({i: float(r[1]) for i, r in zip(batch, results)})
        record = self.records[c.id]
        record.update(score=c.mean, n=c.n, **{k: v for k, v in summarize(list(c.scores.values())).fields().items()
                                              if k in ("score_se", "score_ci")})  # fmt: skip
        if record["batch_score"] is None:
            record["batch_score"] = sum(float(r[1]) for r in results) / len(results)
        return [(out, float(score), text) for out, score, text in results]

    def batch_score(self, c: Candidate, batch: Sequence[int]) -> float:
        """``c``'s mean score on ``batch`` (each example's latest score)."""
        return sum(c.scores[i] for i in batch) / len(batch)

    def evaluate(self, c: Candidate, data: list[tuple[Any, Any]]) -> list[float]:
        """Per-example scores of ``c`` on ``data`` under ``eval_fn`` (untraced)."""
        self.apply(c.values)
        fail = self.opts["failure_score"]
        with self.clock.timed("evaluate"), stop_tracing():
            results = execution.map(lambda ex: run_example(self.agent, self.scorer, ex, fail)[1], data,
                                    concurrency=self.opts["concurrency"])  # fmt: skip
        return [fail if s is None else float(s) for s in results]

    # -- the best (optimizers.search.best) ---------------------------------------------------

    def validate(self, c: Candidate) -> None:
        _best.validate(self, c)

    def rank(self, c: Candidate) -> float:
        return _best.rank(self, c)

    def summary(self, c: Candidate) -> Summary | None:
        return _best.summary(self, c)

    def beats(self, c: Candidate, other: Candidate, batch: Sequence[int]) -> bool:
        return _best.beats(self, c, other, batch)

    def consider(self, *cs: Candidate) -> None:
        _best.consider(self, *cs)

    def rerank_best(self) -> None:
        _best.rerank_best(self)

    def save(self, c: Candidate, message: str, scores: Summary | None = None) -> None:
        _best.save(self, c, message, scores)

    # -- the shared move -------------------------------------------------------------------

    def expand(self, parent: Candidate, batch: Sequence[int], k: int) -> list[Candidate]:
        """Run ``parent`` on ``batch`` with tracing, send back the feedback, propose ``k`` children,
        score each on ``batch``; returns the children (new, or known ones proposed again)."""
        t = self.trainer
        results = self.run_batch(parent, batch, traced=True)
        parent.expansions += 1
        agg = aggregate_feedback([(s, text) for _, s, text in results], max_tokens=t.max_feedback_tokens,
                                 verbatim=t.verbatim)  # fmt: skip
        self.optimizer.zero_feedback()
        for i, text in zip(agg.keep, agg.texts):
            out, score, _ = results[i]
            if not isinstance(out, Node):
                raise TypeError(f"the agent returned {type(out).__name__}, not a node\n"
                                "help: return the output of a traced call (a bundled function or operator)")  # fmt: skip
            self.optimizer.backward(out, text, score=score)
        del results
        try:
            proposals = propose_k(self.optimizer, k, temperature=t.temperature, first_sample=self.next_sample,
                                  concurrency=t.proposal_concurrency, clock=self.clock,
                                  max_reasks=t.max_reasks)  # fmt: skip
        finally:
            self.next_sample += k
            self.optimizer.zero_feedback()
        self.proposed += len(proposals)
        self.failures += [p.details["unreadable"] for p in proposals if "unreadable" in p.details]
        memo = Proposal()
        memo.memory = next((p.memory for p in proposals if p.memory), [])
        memo.calls, memo.tokens, memo.cost = (sum(getattr(p, a) for p in proposals) for a in ("calls", "tokens", "cost"))
        self.optimizer.update(memo)  # remembers (parent values, feedback, score); changes nothing
        children: list[Candidate] = []
        for c in (self.child(parent, p) for p in proposals):
            if c is not None and c is not parent and c not in children:
                children.append(c)
        for c in children:
            self.run_batch(c, batch, traced=False)
        return children

    # -- steps, stopping, the end ----------------------------------------------------------

    def end_step(self, note: str = "", **extra: Any) -> bool:
        """Record the step; return whether to stop (target, patience, callback)."""
        calls, tokens, cost = (self.usage.calls, self.usage.total_tokens, self.usage.cost) if self.usage else (0, 0, 0.0)
        before, self._spent = self._spent, (calls, tokens, cost)
        best = None if self.best is None else self.rank(self.best)
        summary = None if self.best is None else self.summary(self.best)
        record: dict[str, Any] = {"step": self.step, "epoch": self.epoch, "best": best, "score": best,
                                  "calls": calls - before[0], "tokens": tokens - before[1], "cost": cost - before[2],
                                  "changed": self._changed(), "note": note, **extra}  # fmt: skip
        if summary is not None:
            record.update(score_se=summary.se, score_ci=None if summary.ci is None else list(summary.ci), score_n=summary.n)
        record.update({"failed": self.failures} if self.failures else {})  # every one failed: a skipped step
        if self.failures and len(self.failures) == self.proposed:
            record["note"] = f"skipped: all {self.proposed} proposals failed ({self.failures[-1]}); {note}"
        self.proposed, self.failures = 0, []
        improved = bool(self.log) and best is not None and (self.log[-1].get("best") is None or best > self.log[-1]["best"])
        self.stale = 0 if improved or not self.log else self.stale + 1
        if not self.stop and self.opts["target_score"] is not None and best is not None and best >= self.opts["target_score"]:
            self.stop = record["note"] = "target score reached"
        elif not self.stop and self.opts["patience"] is not None and self.stale >= self.opts["patience"]:
            self.stop = record["note"] = f"early stop: no improvement in {self.opts['patience']} steps"
        self.log.append(record)
        if self.observers:
            self.observers.step_ended(record)
        log.info("step %d: best %s, %d calls, %d tokens %s", self.step, describe(best, record.get("score_se"),
                 record.get("score_ci"), record.get("score_n")), record["calls"], record["tokens"], note)  # fmt: skip
        self.bar.step(record)
        callback = self.opts["callback"]
        if callback is not None and callback(record) is False:
            self.stop = self.stop or "stopped by callback"
        return bool(self.stop)

    def _changed(self) -> list[str]:
        if self.best is None or not self.candidates:
            return []
        return [p.py_name for p, a, b in zip(self.params, self.candidates[0].values, self.best.values) if not _same(a, b)]

    def finish(self) -> SearchLog:
        """Restore (and commit) the best parameters; fill in the log's summary."""
        self.rerank_best()
        keep = self.best if self.opts["restore_best"] and self.best is not None else None
        self.apply(keep.values if keep is not None else self.snapshot())
        if keep is not None:
            self.log.best_values = keep.named(self.params)
        self.log.calls = self.usage.calls if self.usage else 0
        self.log.stop = self.stop
        return self.log
