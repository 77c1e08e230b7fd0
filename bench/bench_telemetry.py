"""What OpenTelemetry instrumentation costs a traced call, and what it costs when off.

    python bench/bench_telemetry.py

Prints the median cost of one traced ``@bundle`` call and of one cached LLM call through
``LLM.complete``: uninstrumented (the check is one attribute load), instrumented into an SDK
provider with no exporter, and into an in-memory exporter (span export included). Saves
``bench/results/telemetry.json``.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from _results import save  # noqa: E402


def median_us(fn: Callable[[], Any], repeat: int = 7, number: int = 5_000) -> float:
    runs = []
    for _ in range(repeat):
        t = time.perf_counter()
        for _ in range(number):
            fn()
        runs.append((time.perf_counter() - t) / number * 1e6)
    return statistics.median(runs)


def main() -> None:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    import trace_opt as trace
    from trace_opt import telemetry
    from trace_opt.llm import Cache, FunctionLLM, use_cache

    @trace.bundle()
    def add(a, b):
        return a + b

    x, y = trace.node(1), trace.node(2)
    llm = FunctionLLM(lambda m, **kw: "ok")
    figures: dict[str, float] = {}
    with use_cache(Cache()):
        llm.complete("warm the cache")
        call = lambda: add(x, y)  # noqa: E731
        chat = lambda: llm.complete("warm the cache")  # noqa: E731
        figures["bundle_call_us_off"] = median_us(call)
        figures["llm_cached_call_us_off"] = median_us(chat)
        telemetry.instrument(TracerProvider())
        figures["bundle_call_us_sdk_no_export"] = median_us(call)
        figures["llm_cached_call_us_sdk_no_export"] = median_us(chat)
        exporter = InMemorySpanExporter()
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        telemetry.instrument(provider)
        figures["bundle_call_us_in_memory_export"] = median_us(call, number=2_000)
        figures["llm_cached_call_us_in_memory_export"] = median_us(chat, number=2_000)
        telemetry.uninstrument()
        figures["bundle_call_us_off_after"] = median_us(call)
    for name, value in figures.items():
        print(f"{name:40} {value:8.2f} us")
    print("saved", save("telemetry", {k: round(v, 2) for k, v in figures.items()}))


if __name__ == "__main__":
    main()
