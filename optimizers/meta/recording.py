"""What the meta loop keeps: LLM usage across calls, and rounds written to a store."""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Iterator, Sequence
from typing import Any

from trace_opt.functions.spec import jsonable
from trace_opt.llm import UsageTracker, track_usage
from trace_opt.replay import Run, record
from trace_opt.stats import attach, summarize
from trace_opt.store import Store

from .history import History
from .records import MetaResult, RoundRecord

__all__ = ["Spending", "build_result", "commit_round", "missing_counts", "recording"]


class Spending:
    """LLM calls, tokens and dollars of everything an optimiser did, the running block included."""

    def __init__(self) -> None:
        self.done = {"calls": 0, "tokens": 0, "cost": 0.0}
        #: the tracker of the block running now (None between blocks)
        self.live: UsageTracker | None = None

    @property
    def totals(self) -> dict[str, Any]:
        live = self.live
        extra = (live.calls, live.total_tokens, live.cost) if live is not None else (0, 0, 0.0)
        return {"calls": self.done["calls"] + extra[0], "tokens": self.done["tokens"] + extra[1],
                "cost": self.done["cost"] + extra[2]}  # fmt: skip

    @contextlib.contextmanager
    def tracking(self, max_calls: int | None = None, max_tokens: int | None = None) -> Iterator[None]:
        """Count the block's LLM calls (once: a nested block joins the running one); limits make it a budget."""
        if self.live is not None:
            yield
            return
        with track_usage(max_calls=max_calls, max_tokens=max_tokens) as tracker:
            self.live = tracker
            try:
                yield
            finally:
                self.live = None
                self.done["calls"] += tracker.calls
                self.done["tokens"] += tracker.total_tokens
                self.done["cost"] += tracker.cost


@contextlib.contextmanager
def recording(store: Store | None) -> Iterator[Run | None]:
    """Record the block as a replayable run in ``store`` (nothing without a store)."""
    if store is None:
        yield None
        return
    with record(store) as run:
        yield run


def commit_round(store: Store, name: str, rec: RoundRecord[Any, Any]) -> None:
    """Commit the round (ref ``meta/<name>/round-<i>``) and its hyperparameters as a version of
    the branch ``meta/<name>`` (``store.history(store.ref("params/meta/<name>"))``); sets ``rec.refs``."""
    ref = store.commit({"meta_round": jsonable(rec), "task": name})
    store.set_ref(f"meta/{name}/round-{rec.index}", ref)
    values = jsonable(rec.hyperparameters)
    params = values if isinstance(values, dict) else {"hyperparameters": values}
    version = store.commit_parameters(params, f"round {rec.index}: score {rec.score:.4g}", name=f"meta/{name}")
    if rec.trials:
        attach(store, version.digest, summarize([t.score for t in rec.trials]), round=rec.index)
    rec.refs = {"round": ref.digest, "hyperparameters": version.digest}


def missing_counts(rounds: Sequence[RoundRecord[Any, Any]]) -> dict[str, int]:
    """How often the reflections asked for each setting the task lacks, most asked first."""
    names = Counter(m.strip() for r in rounds for x in r.reflections for m in x.missing_hyperparameters if m.strip())
    return dict(names.most_common())


def build_result(history: History[Any, Any], stop_reason: str, current: Any, failure_score: float,
                 usage: dict[str, Any]) -> MetaResult[Any, Any]:  # fmt: skip
    """The :class:`MetaResult` of a history: its best round, or ``current`` when nothing ran."""
    best = history.best
    return MetaResult(
        best_hyperparameters=best.hyperparameters if best is not None else current,
        best_score=best.score if best is not None else failure_score,
        best_round=best.index if best is not None else -1,
        best_scores=[t.score for t in best.trials] if best is not None else [],
        rounds=list(history.rounds),
        stop_reason=stop_reason,
        missing_hyperparameters=missing_counts(history.rounds),
        summary=history.summary,
        usage=usage,
    )
