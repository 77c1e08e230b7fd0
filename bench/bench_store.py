"""Store, replay and LLM-cache benchmark; saved to bench/results/store.json.

    python bench/bench_store.py                 # everything, 10k recorded calls
    python bench/bench_store.py --quick         # smaller counts, for a smoke run
    python bench/bench_store.py --part cache    # only the single-process LLM-cache path

Parts:

- ``store``: objects committed per second (small and prompt-sized values, new and already
  stored), parameter versions per second, and the per-call cost of a bundled call plain,
  recorded, and replayed from the record, for a program of N calls.
- ``cache``: one process, the LLM cache under ``LLM.complete`` with an instant function
  backend -- a hit from the memory LRU, a hit from the SQLite file, a miss (backend call plus
  write) -- in microseconds per call, best of several repeats.
- ``processes``: 1, 4 and 8 processes released together on a fresh cache directory (and on
  a fresh store file), each writing its own keys and keys every process writes; throughput
  is all writes over the wall time from release to the last finish, and failed calls are
  counted (they must be 0).
"""

from __future__ import annotations

import argparse
import multiprocessing
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _results import save

import trace_opt as trace
from trace_opt.llm import Cache, FunctionLLM, use_cache
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


def bench_cache_path(root: Path, n: int) -> dict[str, float]:
    """Microseconds per ``complete`` call through the cache, one process (what a user feels)."""
    llm = FunctionLLM(lambda messages, **params: "ok", name="bench-cache")
    prompts = [f"question {i}" for i in range(n)]
    out: dict[str, float] = {}
    with use_cache(Cache(root / "path", memory_size=n)) as cache:
        assert cache is not None
        for p in prompts:
            llm.complete(p)
        out["cache hit, memory LRU (us/call)"] = _best(lambda: [llm.complete(p) for p in prompts], 5) / n * 1e6
        cache.close()
    with use_cache(Cache(root / "path", memory_size=0)) as cache:
        assert cache is not None
        out["cache hit, SQLite file (us/call)"] = _best(lambda: [llm.complete(p) for p in prompts], 5) / n * 1e6
        fresh = iter(range(10**9))

        def misses() -> None:
            for _ in range(n):
                llm.complete(f"new question {next(fresh)}")

        out["cache miss + write (us/call)"] = _best(misses, 5) / n * 1e6
        cache.close()
    return out


def _cache_writer(path: str, who: int, n: int, barrier: Any, results: Any) -> None:
    llm = FunctionLLM(lambda messages, **params: "answer to " + messages[-1]["content"], name="bench-writers")
    prompts = [f"shared {i}" if i % 2 else f"writer {who} question {i}" for i in range(n)]
    failed = 0
    barrier.wait()
    start = time.monotonic()
    writes = 0
    try:
        cache = Cache(path)
    except Exception:  # noqa: BLE001 - could not even open (trace_opt before issue 21): all failed
        failed = n
    else:
        with use_cache(cache):
            for p in prompts:
                try:
                    llm.complete(p)
                except Exception:  # noqa: BLE001 - counted: the figure that must stay 0
                    failed += 1
        writes = cache.stats.writes
        cache.close()
    results.put((start, time.monotonic(), writes, failed))


def _store_writer(path: str, who: int, n: int, barrier: Any, results: Any) -> None:
    values = [{"shared": i} if i % 2 else {"writer": who, "i": i} for i in range(n)]
    failed = 0
    barrier.wait()
    start = time.monotonic()
    try:
        with Store(path) as store:
            for v in values:
                try:
                    store.commit(v)
                except Exception:  # noqa: BLE001 - counted: the figure that must stay 0
                    failed += 1
    except Exception:  # noqa: BLE001 - could not even open: every commit failed
        failed = n
    results.put((start, time.monotonic(), n - failed, failed))


def bench_processes(root: Path, n: int) -> dict[str, float]:
    """Writes per second (and failed calls) with 1, 4 and 8 processes released together."""
    ctx = multiprocessing.get_context("spawn")
    out: dict[str, float] = {}
    for kind, target in (("cache", _cache_writer), ("store", _store_writer)):
        for procs in (1, 4, 8):
            path = root / f"{kind}-{procs}"
            if kind == "store":
                path.mkdir()
                path = path / "store.db"
            barrier, results = ctx.Barrier(procs), ctx.Queue()
            workers = [ctx.Process(target=target, args=(str(path), w, n, barrier, results)) for w in range(procs)]
            for w in workers:
                w.start()
            rows = [results.get(timeout=600) for _ in workers]
            for w in workers:
                w.join()
            wall = max(r[1] for r in rows) - min(r[0] for r in rows)
            label = f"{kind}, {procs} writer process{'es' if procs > 1 else ''}"
            out[f"{label}: writes/s"] = sum(r[2] for r in rows) / wall
            out[f"{label}: failed calls"] = sum(r[3] for r in rows)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smaller counts, for a smoke run")
    parser.add_argument("--memory", action="store_true", help="use an in-memory store (part store)")
    parser.add_argument("--part", choices=("all", "store", "cache", "processes"), default="all")
    args = parser.parse_args()
    n = 1_000 if args.quick else 10_000
    rows: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        if args.part in ("all", "store"):
            path = ":memory:" if args.memory else str(Path(tmp) / "bench.db")
            with Store(path) as store:
                rows.update({**bench_commits(store, n), **bench_calls(store, n)})
                if path != ":memory:":
                    rows["store file size (MB)"] = Path(path).stat().st_size / 1e6
        if args.part in ("all", "cache"):
            rows.update(bench_cache_path(Path(tmp), 500 if args.quick else 2_000))
        if args.part in ("all", "processes"):
            rows.update(bench_processes(Path(tmp), 200 if args.quick else 1_000))
    print(f"trace_opt store bench: {n} calls, {'in-memory' if args.memory else 'file (WAL)'} store")
    width = max(map(len, rows))
    for name, value in rows.items():
        print(f"  {name:<{width}}  {value:>10,.1f}")
    name = "store" + ("" if args.part == "all" else f"-{args.part}") + ("-quick" if args.quick else "")
    name += "-memory" if args.memory else ""
    print(f"saved to {save(name, rows)}")


if __name__ == "__main__":
    main()
