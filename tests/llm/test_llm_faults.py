"""Retries with backoff on transient errors, immediate permanent errors, timeouts, limits."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pytest

from trace_opt.errors import (
    AuthenticationError,
    ContextWindowExceeded,
    LLMConnectionError,
    LLMTimeout,
    RateLimitError,
    TransientLLMError,
)
from trace_opt.llm import DummyLLM, FunctionLLM, Limiter, RetryPolicy, use_cache
from trace_opt.llm.retry import classify


class FakeSleep:
    """Records requested delays instead of sleeping (keeps retry tests instant)."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


def test_transient_errors_are_retried_with_exponential_backoff() -> None:
    sleep = FakeSleep()
    policy = RetryPolicy(max_attempts=4, base_delay=1.0, jitter=0.0, sleep=sleep)
    llm = DummyLLM([RateLimitError("slow down"), LLMConnectionError("503"), "ok"], retry=policy)
    assert llm.complete("q").text == "ok"
    assert sleep.delays == [1.0, 2.0]
    assert len(llm.calls) == 3


def test_retries_are_bounded_and_raise_the_last_error() -> None:
    sleep = FakeSleep()
    llm = DummyLLM([LLMTimeout(f"t{i}") for i in range(5)], retry=RetryPolicy(max_attempts=3, sleep=sleep))
    with pytest.raises(LLMTimeout, match="t2"):
        llm.complete("q")
    assert len(llm.calls) == 3 and len(sleep.delays) == 2


def test_jitter_stays_within_bounds() -> None:
    policy = RetryPolicy(base_delay=1.0, max_delay=4.0, jitter=0.5)
    for attempt, cap in [(1, 1.0), (2, 2.0), (3, 4.0), (6, 4.0)]:
        for _ in range(50):
            assert cap * 0.5 <= policy.delay(attempt) <= cap


def test_rate_limit_retry_after_is_respected() -> None:
    err = RateLimitError("slow")
    err.retry_after = 7.0  # type: ignore[attr-defined]
    assert RetryPolicy(base_delay=0.1, jitter=0).delay(1, err) == 7.0


@pytest.mark.parametrize("error", [AuthenticationError("bad key"), ContextWindowExceeded("too long, 9000 > 8192")])
def test_permanent_errors_raise_at_once_with_provider_message(error: Exception) -> None:
    sleep = FakeSleep()
    llm = DummyLLM([error, "never"], retry=RetryPolicy(sleep=sleep))
    with pytest.raises(type(error), match=str(error).split()[0]):
        llm.complete("q")
    assert len(llm.calls) == 1 and sleep.delays == []


def test_async_path_retries_the_same_way() -> None:
    slept: list[float] = []

    async def asleep(seconds: float) -> None:
        slept.append(seconds)

    llm = DummyLLM([RateLimitError("x"), "ok"], retry=RetryPolicy(base_delay=2.0, jitter=0.0, sleep=asleep))
    assert asyncio.run(llm.acomplete("q")).text == "ok"
    assert slept == [2.0]


def test_builtin_timeouts_and_connection_errors_are_transient() -> None:
    assert isinstance(classify(TimeoutError()), LLMTimeout)
    assert isinstance(classify(ConnectionResetError("reset")), LLMConnectionError)
    bug = ValueError("bug")
    assert classify(bug) is bug

    attempts: list[int] = []

    def flaky(messages: list[dict[str, Any]], **params: Any) -> str:
        attempts.append(1)
        if len(attempts) < 2:
            raise ConnectionResetError("peer reset")
        return "ok"

    llm = FunctionLLM(flaky, retry=RetryPolicy(sleep=FakeSleep()))
    assert llm.complete("q").text == "ok" and len(attempts) == 2


def test_sync_timeout_stops_waiting() -> None:
    release = threading.Event()

    def slow(messages: list[dict[str, Any]], **params: Any) -> str:
        release.wait(5)
        return "late"

    llm = FunctionLLM(slow, timeout=0.05, retry=RetryPolicy(max_attempts=1))
    start = time.perf_counter()
    with pytest.raises(LLMTimeout, match="0.05s"):
        llm.complete("q")
    assert time.perf_counter() - start < 2
    release.set()


def test_async_timeout_is_per_call_configurable() -> None:
    async def slow(messages: list[dict[str, Any]], **params: Any) -> str:
        await asyncio.sleep(5)
        return "late"

    llm = FunctionLLM(slow, retry=RetryPolicy(max_attempts=1))
    with pytest.raises(LLMTimeout):
        asyncio.run(llm.acomplete("q", timeout=0.05))
    assert isinstance(LLMTimeout("x"), TransientLLMError)


def test_concurrency_limit_holds_across_threads() -> None:
    lock = threading.Lock()
    state = {"now": 0, "peak": 0}

    def fn(messages: list[dict[str, Any]], **params: Any) -> str:
        with lock:
            state["now"] += 1
            state["peak"] = max(state["peak"], state["now"])
        time.sleep(0.01)
        with lock:
            state["now"] -= 1
        return "ok"

    llm = FunctionLLM(fn, max_concurrency=2)
    with use_cache(None):
        threads = [threading.Thread(target=llm.complete, args=(f"q{i}",)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert state["peak"] == 2
    assert llm.limiter.in_flight == 0


def test_concurrency_limit_holds_in_asyncio() -> None:
    state = {"now": 0, "peak": 0}

    async def fn(messages: list[dict[str, Any]], **params: Any) -> str:
        state["now"] += 1
        state["peak"] = max(state["peak"], state["now"])
        await asyncio.sleep(0.01)
        state["now"] -= 1
        return "ok"

    llm = FunctionLLM(fn, max_concurrency=3)

    async def main() -> None:
        with use_cache(None):
            await asyncio.gather(*(llm.acomplete(f"q{i}") for i in range(10)))

    asyncio.run(main())
    assert state["peak"] == 3


def test_requests_per_minute_spacing_with_fake_clock() -> None:
    now = [0.0]
    lim = Limiter(rpm=60, clock=lambda: now[0])  # one per second, burst of one
    assert lim.try_acquire(lambda: None) is None
    lim.release()
    wait = lim.try_acquire(lambda: None)
    assert wait == pytest.approx(1.0)
    now[0] += 1.0
    assert lim.try_acquire(lambda: None) is None


def test_cancelled_waiter_does_not_leak_a_slot() -> None:
    async def fn(messages: list[dict[str, Any]], **params: Any) -> str:
        await asyncio.sleep(0.05)
        return "ok"

    llm = FunctionLLM(fn, max_concurrency=1)

    async def main() -> None:
        with use_cache(None):
            first = asyncio.ensure_future(llm.acomplete("a"))
            second = asyncio.ensure_future(llm.acomplete("b"))
            await asyncio.sleep(0.01)
            second.cancel()
            await first
            assert (await llm.acomplete("c")).text == "ok"

    asyncio.run(main())
    assert llm.limiter.in_flight == 0
