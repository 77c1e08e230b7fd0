"""Store and replay benchmark.

    python bench/bench_store.py            # 10k recorded calls, a file store in a temp dir
    python bench/bench_store.py --quick    # 1k calls, for a smoke run

Prints: objects committed per second (small and prompt-sized values, new and already stored),
parameter versions per second, and per-call cost of a bundled call plain, recorded, and
replayed from the record (the replay overhead), for a program of N calls.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import trace_opt as trace
from trace_opt.replay import record
from trace_opt.store import Store


def _best(fn: Callable[[], Any], repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def bench_commits(store: Store, n: int) -> dict[str, float]:
    small = [{"step": i, "score": i / 7, "tags": ("a", "b")} for i in range(n)]
    prompt = "You are a careful assistant. " * 40  # ~1.2 kB, a typical prompt
    big = [f"{prompt}#{i}" for i in range(n)]
    out = {}
    t = time.perf_counter()
    for v in small:
        store.commit(v)
    out["commit small new (/s)"] = n / (time.perf_counter() - t)
    t = time.perf_counter()
    for v in small:
        store.commit(v)
    out["commit small existing (/s)"] = n / (time.perf_counter() - t)
    t = time.perf_counter()
    for v in big:
        store.commit(v)
    out["commit 1.2kB prompt (/s)"] = n / (time.perf_counter() - t)
    refs = [store.commit(v).digest for v in small[:1000]]
    store._cache.clear()
    t = time.perf_counter()
    for r in refs:
        store.get(r)
    out["get uncached (/s)"] = len(refs) / (time.perf_counter() - t)
    p = trace.node("Be brief.", trainable=True)
    q = trace.node(prompt, trainable=True)
    m = max(n // 10, 100)
    t = time.perf_counter()
    for i in range(m):
        p._set(f"Be brief, take {i}.")
        store.commit_parameters({"p": p, "q": q}, f"step {i}", name="bench")
    out["commit_parameters (/s)"] = m / (time.perf_counter() - t)
    return out


def bench_calls(store: Store, n: int) -> dict[str, float]:
    @trace.bundle()
    def step(i, text):
        return {"i": i, "echo": text[:20]}

    def program() -> None:
        for i in range(n):
            step(i, "some prompt text that an LLM call would take")

    plain = _best(program)
    runs = []

    def recorded() -> None:
        with record(store) as run:
            program()
        runs.append(run)

    rec = _best(recorded)
    run = runs[-1]
    replayed_runs = []
    rep = _best(lambda: replayed_runs.append(run.replay(program)))
    assert all(c.replayed for c in replayed_runs[-1].calls)
    rewound = _best(lambda: run.rewind(n // 2).replay(program))
    us = 1e6 / n
    return {
        "bundled call, plain (us/call)": plain * us,
        "recorded (us/call)": rec * us,
        "recording overhead (us/call)": (rec - plain) * us,
        "replayed from record (us/call)": rep * us,
        "replay overhead (us/call)": (rep - plain) * us,
        "half replayed, half live (us/call)": rewound * us,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="1k calls instead of 10k")
    parser.add_argument("--memory", action="store_true", help="use an in-memory store")
    args = parser.parse_args()
    n = 1_000 if args.quick else 10_000
    with tempfile.TemporaryDirectory() as tmp:
        path = ":memory:" if args.memory else str(Path(tmp) / "bench.db")
        with Store(path) as store:
            rows = {**bench_commits(store, n), **bench_calls(store, n)}
            size = Path(path).stat().st_size if path != ":memory:" else 0
    print(f"trace_opt store bench: {n} calls, {'in-memory' if args.memory else 'file (WAL)'} store")
    width = max(map(len, rows))
    for name, value in rows.items():
        print(f"  {name:<{width}}  {value:>10,.1f}")
    if size:
        print(f"  {'file size (MB)':<{width}}  {size / 1e6:>10,.1f}")


if __name__ == "__main__":
    main()
