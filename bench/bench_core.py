"""Core graph engine benchmark: trace_opt against Microsoft Trace (``opto``) when importable.

    python bench/bench_core.py            # full sizes (100k-node graphs)
    python bench/bench_core.py --quick    # small sizes, for a smoke run

Prints one table: per-call cost of a traced ``@bundle`` call and of ``node()``, memory kept
per traced call (while the output is held, and after it is dropped), and backward time and
peak memory on a chain and a fan-in graph. Trace's figures come from the same process
(``pip install --no-deps trace-opt`` beside graphviz); its backward is quadratic, so it runs
on smaller graphs and the ratio compares equal sizes.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

sys.setrecursionlimit(100_000)

from _results import save  # noqa: E402 - bench/ is the script's directory, on sys.path when run as a script


def _median_us(fn: Callable[[], Any], repeat: int = 7, number: int = 20_000, clock: Callable[[], float] = time.perf_counter) -> float:
    runs = []
    for _ in range(repeat):
        t = clock()
        for _ in range(number):
            fn()
        runs.append((clock() - t) / number * 1e6)
    return statistics.median(runs)


# CPU time of this thread: on a shared, loaded machine wall time mostly measures the other
# processes, so the table gives both.
_cpu = time.thread_time


class Lib:
    """The few operations the benchmark needs, for one library."""

    def __init__(self, name: str) -> None:
        self.name = name
        if name == "trace_opt":
            import trace_opt as t

            self.node, self.bundle = t.node, t.bundle
            self.backward = lambda out: out.backward("feedback")
        else:
            from opto import trace as t  # type: ignore[import-not-found]

            self.node, self.bundle = t.node, t.bundle
            self.backward = lambda out: out.backward("feedback")
        self.t = t

        @self.bundle()
        def add(a, b):
            return a + b

        @self.bundle()
        def total(*xs):
            return len(xs)

        self.add, self.total = add, total


def bench_call(lib: Lib) -> dict[str, float]:
    x, y = lib.node(1), lib.node(2)
    return {
        "bundle call (us)": _median_us(lambda: lib.add(x, y)),
        "node() (us)": _median_us(lambda: lib.node(1)),
        "bundle call cpu (us)": _median_us(lambda: lib.add(x, y), clock=_cpu),
        "node() cpu (us)": _median_us(lambda: lib.node(1), clock=_cpu),
    }


def bench_retained(lib: Lib, calls: int = 20_000) -> dict[str, float]:
    x = lib.node(1)
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    outs = [lib.add(x, i) for i in range(calls)]
    held = (tracemalloc.get_traced_memory()[0] - base) / calls
    del outs
    gc.collect()
    after = max(0.0, (tracemalloc.get_traced_memory()[0] - base) / calls)
    tracemalloc.stop()
    return {"bytes/call held": held, "bytes/call after drop": after}


def chain(lib: Lib, n: int) -> Any:
    x = lib.node(0, trainable=True)
    for _ in range(n):
        x = lib.add(x, 1)
    return x


def fan_in(lib: Lib, n: int) -> Any:
    leaves = [lib.node(i, trainable=True) for i in range(n)]
    return lib.total(*leaves)


def bench_backward(lib: Lib, build: Callable[[Lib, int], Any], n: int) -> tuple[float, float, float]:
    """Time on one graph, peak memory (tracemalloc slows everything down) on a second."""
    out = build(lib, n)
    gc.collect()
    t, c = time.perf_counter(), _cpu()
    lib.backward(out)
    elapsed, cpu = time.perf_counter() - t, _cpu() - c
    del out
    out = build(lib, n)
    gc.collect()
    tracemalloc.start()
    lib.backward(out)
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return elapsed, cpu, peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small graphs only")
    args = parser.parse_args()
    big = 10_000 if args.quick else 100_000
    small = 2_000 if args.quick else 10_000

    libs = [Lib("trace_opt")]
    try:
        libs.append(Lib("opto"))
    except ImportError as exc:
        print(f"(Microsoft Trace not importable: {exc}; pip install --no-deps trace-opt graphviz)")

    rows: dict[str, dict[str, float]] = {}
    for lib in libs:
        r = rows.setdefault(lib.name, {})
        r.update(bench_call(lib))
        r.update(bench_retained(lib))
        sizes = [small, big] if lib.name == "trace_opt" else [small]
        for n in sizes:
            for label, build in (("chain", chain), ("fan-in", fan_in)):
                secs, cpu, peak = bench_backward(lib, build, n)
                r[f"backward {label} {n:,} (s)"] = secs
                r[f"backward {label} {n:,} cpu (s)"] = cpu
                r[f"backward {label} {n:,} peak (MiB)"] = peak

    keys = list(dict.fromkeys(k for r in rows.values() for k in r))
    names = [lib.name for lib in libs]
    print(f"{'metric':38}" + "".join(f"{n:>14}" for n in names) + ("      ratio" if len(names) > 1 else ""))
    for k in keys:
        vals = [rows[n].get(k) for n in names]
        line = f"{k:38}" + "".join(f"{v:14.3f}" if v is not None else f"{'-':>14}" for v in vals)
        if len(vals) > 1 and vals[0] and vals[1] and vals[0] > 1e-2:
            line += f"  {vals[1] / vals[0]:8.1f}x"
        print(line)
    save("core_quick" if args.quick else "core", rows)


if __name__ == "__main__":
    main()
