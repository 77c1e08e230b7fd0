"""Scale-out: the thread executor vs Ray tasks at 1, 2 and 4 workers.

Each example is 0.5 s of simulated tool work (a sleep inside a bundled function) plus one LLM
call to a FunctionLLM that answers after 200 ms -- the shape of an agent evaluation, where time
goes to waiting, not computing. That is why it scales on this 2-core machine: workers sleep
side by side. Also measured: the per-task overhead of the Ray path (a no-op task, one at a
time: all of it is overhead), the driver's CPU per task (what bounds how many workers one
driver can feed) and the bytes shipped per task each way.

    python bench/bench_scale.py                 # 200 examples (about 5 minutes)
    python bench/bench_scale.py --examples 40   # a quick look
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _results import save  # noqa: E402

import trace_opt as trace  # noqa: E402
from trace_opt.distributed import last_tasks  # noqa: E402
from trace_opt.llm import FunctionLLM, get_llm, track_usage, use, use_cache  # noqa: E402

TOOL_SECONDS = 0.5
LLM_SECONDS = 0.2

instruction = trace.node("Summarise the tool output in one line.", trainable=True, name="instruction")


def slow_model(messages: list[dict[str, str]], **params: Any) -> str:
    time.sleep(LLM_SECONDS)
    return "summary: " + messages[-1]["content"][-40:]


@trace.bundle()
def run_tool(query):
    """A tool call that takes half a second (simulated)."""
    time.sleep(TOOL_SECONDS)
    return f"tool result for {query}"


@trace.bundle()
def summarise(instruction, tool_output):
    """One LLM call per example."""
    return get_llm().complete(f"{instruction}\n{tool_output}").text


def example(query: Any) -> Any:
    return summarise(instruction, run_tool(query))


def noop(x: Any) -> Any:
    return x


def timed(fn: Any, items: list[Any], **kw: Any) -> tuple[float, list[Any]]:
    started = time.perf_counter()
    out = trace.map(fn, items, return_exceptions=True, **kw)
    return time.perf_counter() - started, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--examples", type=int, default=200)
    args = parser.parse_args()
    n = args.examples

    import ray

    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    started = time.perf_counter()
    ray.init(num_cpus=4, include_dashboard=False, log_to_driver=False)  # 4 worker slots on 2 cores
    init_s = time.perf_counter() - started
    figures: dict[str, Any] = {"examples": n, "tool_s": TOOL_SECONDS, "llm_latency_s": LLM_SECONDS,
                               "ray_init_s": round(init_s, 2)}  # fmt: skip
    llm = FunctionLLM(slow_model, name="bench-scale")
    queries = [trace.node(f"query {i}", name="query") for i in range(n)]
    with use(llm), use_cache(None):
        timed(noop, list(range(8)), concurrency=4, executor="ray")  # start the worker processes

        # Per-task overhead: no-op tasks one at a time; every millisecond is the Ray path's.
        wall, _ = timed(noop, [trace.node(i) for i in range(50)], concurrency=1, executor="ray")
        figures["ray_overhead_ms_per_task"] = round(1000 * wall / 50, 1)
        figures["ray_noop_worker_ms_per_task"] = round(1000 * statistics.mean(r.seconds for r in last_tasks()), 2)
        wall, _ = timed(noop, [trace.node(i) for i in range(50)], concurrency=1, executor="thread")
        figures["thread_overhead_ms_per_task"] = round(1000 * wall / 50, 2)

        for k in (4,):
            with track_usage() as usage:
                wall, out = timed(example, queries, concurrency=k, executor="thread")
            assert all(isinstance(o, trace.MessageNode) for o in out), out[:3]
            figures[f"thread_{k}_s"] = round(wall, 1)
            figures[f"thread_{k}_llm_calls"] = usage.calls
            print(f"thread x{k}: {wall:.1f} s ({usage.calls} LLM calls)", flush=True)
        for k in (1, 2, 4):
            cpu = time.process_time()
            with track_usage() as usage:
                wall, out = timed(example, queries, concurrency=k, executor="ray")
            figures[f"ray_{k}_driver_cpu_ms_per_task"] = round(1000 * (time.process_time() - cpu) / n, 2)
            assert all(isinstance(o, trace.MessageNode) for o in out), out[:3]
            records = last_tasks()
            work = sum(r.seconds for r in records)
            figures[f"ray_{k}_s"] = round(wall, 1)
            figures[f"ray_{k}_llm_calls"] = usage.calls  # summed in the driver from the workers' reports
            figures[f"ray_{k}_overhead_ms_per_task"] = round(1000 * (wall * k - work) / n, 1)
            print(f"ray x{k}: {wall:.1f} s ({usage.calls} LLM calls)", flush=True)
        figures["bytes_item_per_task"] = int(statistics.mean(r.bytes_sent for r in records))
        figures["bytes_function_per_map"] = records[0].bytes_common
        figures["bytes_received_per_task"] = int(statistics.mean(r.bytes_received for r in records))
        figures["sequential_estimate_s"] = round(n * (TOOL_SECONDS + LLM_SECONDS), 1)
    ray.shutdown()
    for key, value in figures.items():
        print(f"{key:32} {value}")
    save("scale", figures, notes="sleep-bound work (tool + LLM latency), so 4 Ray workers scale on 2 cores; "
         "ray_k_overhead_ms_per_task = (wall x k - time inside tasks) / examples")  # fmt: skip


if __name__ == "__main__":
    main()
