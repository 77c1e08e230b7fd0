"""LLM calls inside Ray tasks: one cache directory shared by every worker, usage summed in the
driver's trackers, and a budget that stops scheduling once it is spent."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import trace_opt as trace
from trace_opt.errors import BudgetExceeded
from trace_opt.llm import Cache, FunctionLLM, get_llm, track_usage, use, use_cache


def shout(messages: list[dict[str, str]], **params: Any) -> str:
    return messages[-1]["content"].upper()


def ask(question: str) -> str:
    return get_llm().complete(question).text


def test_workers_share_the_cache_and_the_driver_sums_usage(local_ray: Any, tmp_path: Path) -> None:
    llm = FunctionLLM(shout, name="shout")
    questions = [f"question {i}" for i in range(4)]
    with use(llm), use_cache(Cache(tmp_path)):
        with track_usage() as first:
            answers = trace.map(ask, questions, concurrency=2, executor="ray")
        with track_usage() as second:
            again = trace.map(ask, questions, concurrency=2, executor="ray")
    assert answers == again == [q.upper() for q in questions]
    assert (first.calls, first.cached_calls) == (4, 0)
    assert first.total_tokens > 0
    assert (second.calls, second.cached_calls) == (0, 4)  # answered from the shared directory
    assert (tmp_path / "cache.sqlite").exists() or any(tmp_path.iterdir())


def test_budget_stops_scheduling_and_overspends_at_most_the_calls_in_flight(local_ray: Any) -> None:
    llm = FunctionLLM(shout, name="shout-budget")
    with use(llm), use_cache(None), track_usage(max_calls=3) as budget:
        results = trace.map(ask, [f"q{i}" for i in range(8)], concurrency=2, executor="ray", return_exceptions=True)
    answered = [r for r in results if isinstance(r, str)]
    refused = [r for r in results if isinstance(r, BudgetExceeded)]
    assert len(answered) + len(refused) == 8
    assert 3 <= len(answered) and budget.calls == len(answered)
    assert budget.calls <= 3 + 2 - 1  # at most the other in-flight task's call past the limit
    assert results[-1] is refused[-1]  # the tail was never scheduled
