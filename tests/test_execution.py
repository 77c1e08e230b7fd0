"""parallel / map: concurrency, order, errors, and tracing that comes out right."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pytest

import trace_opt as trace
from trace_opt.execution import amap, aparallel, map, parallel
from trace_opt.llm import DummyLLM, FunctionLLM, generate_text, track_usage, use


@trace.bundle()
def inc(x: int) -> int:
    return x + 1


@trace.bundle()
async def ainc(x: int) -> int:
    await asyncio.sleep(0.001)
    return x + 1


def test_map_keeps_order_and_parents() -> None:
    inputs = [trace.node(i) for i in range(20)]
    outs = map(inc, inputs, concurrency=4)
    assert [o.data for o in outs] == list(range(1, 21))
    assert all(o.parents == (x,) for o, x in zip(outs, inputs))


def test_map_with_async_bundled_function() -> None:
    inputs = [trace.node(i) for i in range(5)]
    outs = map(ainc, inputs, concurrency=2)
    assert [o.data for o in outs] == [1, 2, 3, 4, 5]
    assert all(o.parents[0] is x for o, x in zip(outs, inputs))


def test_parallel_mixes_callables_and_coroutines() -> None:
    llm = DummyLLM(default="r")
    results = parallel(lambda: inc(1), ainc(2), lambda: 3, llm.acomplete("q"))
    assert results[0].data == 2 and results[1].data == 3 and results[2] == 3 and results[3].text == "r"


def test_map_runs_concurrently_up_to_the_limit() -> None:
    lock = threading.Lock()
    state = {"now": 0, "peak": 0}

    def work(i: int) -> int:
        with lock:
            state["now"] += 1
            state["peak"] = max(state["peak"], state["now"])
        time.sleep(0.02)
        with lock:
            state["now"] -= 1
        return i

    assert map(work, range(12), concurrency=4) == list(range(12))
    assert state["peak"] == 4


def test_branches_see_the_callers_context() -> None:
    llm = FunctionLLM(lambda messages, **p: messages[-1]["content"].upper())
    prompts = [trace.node(f"p{i}", trainable=True) for i in range(6)]
    with use(llm), track_usage() as usage:
        outs = map(lambda p: generate_text(p), prompts, concurrency=3)
    assert [o.data for o in outs] == [f"P{i}" for i in range(6)]
    assert [o.parents[0] for o in outs] == prompts
    assert usage.calls == 6
    with trace.stop_tracing():
        untraced = map(inc, [trace.node(1)], concurrency=1)
    assert untraced[0].parents == ()


def test_first_error_is_raised_and_later_work_skipped() -> None:
    started: list[int] = []

    def work(i: int) -> int:
        started.append(i)
        if i == 1:
            raise KeyError("boom")
        return i

    with pytest.raises(KeyError, match="boom"):
        map(work, range(50), concurrency=1)
    assert len(started) < 50


def test_return_exceptions() -> None:
    def work(i: int) -> int:
        if i % 2:
            raise ValueError(i)
        return i

    results = map(work, range(4), return_exceptions=True)
    assert results[0] == 0 and isinstance(results[1], ValueError) and results[2] == 2


def test_skipped_coroutines_are_closed_without_warning() -> None:
    async def fail() -> None:
        raise RuntimeError("first")

    async def never() -> int:
        return 1

    with pytest.raises(RuntimeError, match="first"):
        parallel(fail(), never(), never(), concurrency=1)


def test_works_inside_a_running_loop() -> None:
    async def main() -> list[Any]:
        inner = parallel(lambda: inc(1))
        outer = await aparallel(lambda: inc(2), ainc(3))
        mapped = await amap(ainc, [4])
        return [inner[0].data, *(o.data for o in outer), mapped[0].data]

    assert asyncio.run(main()) == [2, 3, 4, 5]


def test_invalid_arguments() -> None:
    with pytest.raises(ValueError, match="concurrency"):
        map(inc, [1], concurrency=0)
    with pytest.raises(TypeError, match="zero-argument"):
        parallel(42)  # type: ignore[arg-type]
    assert parallel() == []
