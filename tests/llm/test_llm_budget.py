"""Usage accounting per call and per block, and budgets that refuse before overspending."""

from __future__ import annotations

import asyncio
import contextvars
import threading
from typing import Any

import pytest

from trace_opt.errors import BudgetExceeded, LLMError
from trace_opt.llm import DummyLLM, FunctionLLM, LLMResponse, Usage, track_usage, use_cache


def _priced(cost: float = 0.01, prompt: int = 100, completion: int = 20) -> tuple[FunctionLLM, list[int]]:
    calls: list[int] = []

    def fn(messages: list[dict[str, Any]], **params: Any) -> LLMResponse:
        calls.append(1)
        return LLMResponse("ok", usage=Usage(prompt, completion), cost=cost)

    return FunctionLLM(fn), calls


def test_usage_is_summed_over_the_block() -> None:
    llm, _ = _priced()
    with track_usage() as usage:
        for i in range(3):
            llm.complete("q", sample_id=i)
    assert (usage.calls, usage.prompt_tokens, usage.completion_tokens) == (3, 300, 60)
    assert usage.cost == pytest.approx(0.03)
    assert usage.usage == Usage(300, 60) and usage.total_tokens == 360


def test_nested_trackers_both_count() -> None:
    llm, _ = _priced()
    with track_usage() as outer:
        llm.complete("a")
        with track_usage() as inner:
            llm.complete("b")
    assert (outer.calls, inner.calls) == (2, 1)


def test_cache_hits_are_counted_but_free() -> None:
    llm, calls = _priced()
    with track_usage(max_calls=1) as usage:
        for _ in range(5):
            llm.complete("same")
    assert len(calls) == 1
    assert (usage.calls, usage.cached_calls, usage.cost) == (1, 4, pytest.approx(0.01))


def test_call_budget_stops_before_the_extra_call() -> None:
    llm, calls = _priced()
    with track_usage(max_calls=2), pytest.raises(BudgetExceeded, match="call budget of 2") as info:
        for i in range(5):
            llm.complete("q", sample_id=i)
    assert len(calls) == 2
    assert isinstance(info.value, LLMError) and "help:" in str(info.value)


def test_token_budget_counts_max_tokens_in_advance() -> None:
    llm, calls = _priced(prompt=10, completion=50)
    # every call reserves its prompt estimate + max_tokens=50 before running
    with track_usage(max_tokens=150) as usage, pytest.raises(BudgetExceeded, match="token budget"):
        for i in range(10):
            llm.complete("q", sample_id=i, max_tokens=50)
    assert usage.total_tokens <= 150
    assert len(calls) == 2


def test_dollar_budget_with_known_prices_never_overspends() -> None:
    # 1000 prompt-token estimate is not what we bill; cost_per_token makes the estimate exact enough
    llm = FunctionLLM(lambda m, **p: "x" * 40, cost_per_token=(0.001, 0.001))
    with track_usage(max_cost=0.05) as usage, pytest.raises(BudgetExceeded, match="cost budget"):
        for i in range(100):
            llm.complete("hello there", sample_id=i, max_tokens=10)
    assert usage.cost <= 0.05
    assert usage.calls >= 1


def test_failed_calls_release_their_reservation() -> None:
    llm = DummyLLM([LLMError("boom")] + ["ok"] * 3)
    with track_usage(max_calls=1) as usage:
        with pytest.raises(LLMError, match="boom"):
            llm.complete("q", sample_id=0)
        assert llm.complete("q", sample_id=1).text == "ok"
    assert usage.calls == 1


def test_concurrent_calls_cannot_jointly_overspend() -> None:
    barrier = threading.Barrier(8)
    llm, calls = _priced()
    results: list[str] = []

    def worker(i: int) -> None:
        barrier.wait()
        try:
            llm.complete("q", sample_id=i)
            results.append("ok")
        except BudgetExceeded:
            results.append("refused")

    with use_cache(None), track_usage(max_calls=3) as usage:
        # plain threads start with an empty context: hand each a copy of ours (as parallel() does)
        threads = [threading.Thread(target=contextvars.copy_context().run, args=(worker, i)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert results.count("ok") == 3 and usage.calls == 3 and len(calls) == 3


def test_async_calls_are_tracked() -> None:
    llm, _ = _priced()

    async def main() -> None:
        await asyncio.gather(*(llm.acomplete("q", sample_id=i) for i in range(4)))

    with track_usage() as usage:
        asyncio.run(main())
    assert usage.calls == 4


def test_invalid_limits() -> None:
    with pytest.raises(ValueError, match="max_tokens"), track_usage(max_tokens=-1):
        pass
