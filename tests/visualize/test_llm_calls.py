"""A bundled function that asks an LLM is drawn as an LLM call: its output node records how
many calls it made to which model (``info["llm_calls"]``), counted per context."""

from __future__ import annotations

import asyncio
import contextvars
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

import trace_opt as trace
from trace_opt import context
from trace_opt.llm import FunctionLLM, generate_text
from trace_opt.drawing import KINDS
from trace_opt.llm import RetryPolicy
from trace_opt.visualize import kind_of

pytest.importorskip("graphviz")
LABEL = re.compile(r'label="((?:[^"\\]|\\.)*)"')


def label_lines(source: str) -> list[str]:
    return [line for label in LABEL.findall(source) for line in re.split(r"\\[nl]", label) if line]


def legend_kinds(source: str) -> set[str]:
    block = re.search(r"subgraph cluster_legend \{(.*?)\n\t\}", source, re.S)
    assert block is not None, "no legend cluster"
    return set(re.findall(r'<TD PORT="(\w+)"', block.group(1)))


small = FunctionLLM(lambda messages, **params: "positive", name="small")
big = FunctionLLM(lambda messages, **params: "negative", name="big")


@trace.bundle()
def classify(instruction: str, review: str) -> str:
    first = generate_text(f"{instruction}\n{review}", llm=small).data
    return first if small.complete("again?").text == first else big.complete(review).text


@trace.bundle()
def shout(text: str) -> str:
    return text.upper()


def node_line(source: str, name: str) -> str:
    line = next((line for line in source.splitlines() if f'label="{name}' in line), None)
    assert line is not None, source
    return line


def test_a_bundle_that_asked_an_llm_records_its_calls_per_model() -> None:
    out = classify(trace.node("Label it.", trainable=True), "great film")
    assert out._info["llm_calls"] == {"small": 2}
    assert shout(out)._info is None  # no LLM call: nothing recorded, as before
    mixed = trace.bundle()(lambda: small.complete("a").text + big.complete("b").text + small.complete("c").text)()
    assert mixed._info["llm_calls"] == {"big": 1, "small": 2}


def test_it_is_drawn_as_an_llm_call_with_the_count_in_its_label() -> None:
    out = shout(classify(trace.node("Label it.", trainable=True, name="instruction"), "great film"))
    source = trace.render(out).source
    asked = node_line(source, "classify")
    assert f'fillcolor="{KINDS["llm"][1]["fillcolor"]}"' in asked
    assert re.search(r'label="classify_\d+\\n2 LLM calls: small\\n', asked), asked
    assert f'fillcolor="{KINDS["message"][1]["fillcolor"]}"' in node_line(source, "shout")
    assert legend_kinds(source) == {"trainable", "llm", "message", "value"}  # the legend names the kind it used
    assert kind_of(out) == "message" and kind_of(out.parents[0]) == "llm"
    assert "2 LLM calls: small" in label_lines(source)


def test_models_are_listed_with_their_counts() -> None:
    mixed = trace.bundle()(lambda: small.complete("a").text + big.complete("b").text + small.complete("c").text)()
    assert "3 LLM calls: big ×1, small ×2" in label_lines(trace.render(mixed).source)
    one = trace.bundle()(lambda: big.complete("a").text)()
    assert "1 LLM call: big" in label_lines(trace.render(one).source)


def test_an_outer_bundle_counts_the_calls_of_bundles_it_calls() -> None:
    outer = trace.bundle()(lambda review: classify("Label it.", review).data)
    assert outer("fine")._info["llm_calls"] == {"small": 2}


def test_a_failed_llm_call_still_counts_as_asked() -> None:
    broken = FunctionLLM(lambda messages, **params: 1 / 0, name="broken", retry=RetryPolicy(max_attempts=1))

    @trace.bundle(catch_execution_error=False)
    def tries() -> str:
        try:
            return broken.complete("x").text
        except Exception:  # noqa: BLE001 - the function recovers; the call was still made
            return "fallback"

    assert tries()._info["llm_calls"] == {"broken": 1}


def test_concurrent_async_calls_each_count_their_own() -> None:
    slow = FunctionLLM(lambda messages, **params: "ok", name="slow")

    @trace.bundle()
    async def ask(n: int) -> str:
        for _ in range(n):
            await slow.acomplete(f"q{n}")
            await asyncio.sleep(0)  # let the other task run in between
        return "done"

    async def both() -> list[Any]:
        return list(await asyncio.gather(ask(1), ask(3), ask(0)))

    one, three, none = asyncio.run(both())
    assert one._info["llm_calls"] == {"slow": 1} and three._info["llm_calls"] == {"slow": 3}
    assert none._info is None


def test_a_long_lived_context_keeps_a_bounded_chain_and_still_counts_exactly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(context, "KEEP", 10)

    @trace.bundle()
    def ask(n: int) -> str:
        return "".join(small.complete(str(i)).text for i in range(n))

    def run() -> list[Any]:
        outs = [ask(n)._info["llm_calls"] for n in (5, 4, 5, 3, 5)]  # 22 calls: the chain is cut on the way
        depth = context.LLM_CALLS.get().depth  # type: ignore[union-attr]
        return [outs, depth]

    outs, depth = contextvars.copy_context().run(run)
    assert outs == [{"small": n} for n in (5, 4, 5, 3, 5)]  # exact up to KEEP // 2 calls in one bundled call
    assert depth < 10


def test_threads_do_not_count_each_others_calls() -> None:
    barrier = threading.Barrier(2)

    @trace.bundle()
    def ask(n: int) -> int:
        barrier.wait()  # both threads are inside their call before either asks
        for i in range(n):
            small.complete(f"{n}:{i}")
        barrier.wait()  # and neither returns before the other asked
        return n

    with ThreadPoolExecutor(2) as pool:
        two, five = pool.map(ask, [2, 5])
    assert two._info["llm_calls"] == {"small": 2} and five._info["llm_calls"] == {"small": 5}
