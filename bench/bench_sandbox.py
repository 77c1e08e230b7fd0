"""Cost of running optimizer-written code in the sandbox (trace_opt.sandbox).

    python bench/bench_sandbox.py

For each isolation available here ("os": bubblewrap namespaces + seccomp; "process": the
opt-in plain worker), prints and saves to bench/results/sandbox.json:

- cold start: a new worker's first call (spawn, limits, seccomp, compile the code, run it);
  a worker serves one function's code, so every new rewrite of a function pays this once;
- warm call overhead: a traced call of a rewritten function in the sandbox minus the same code
  trusted in process (median of 5 runs);
- CPU time per warm call, the user's process and the worker together (what the wall-clock
  overhead comes down to on an idle machine; the wall clock on a shared one mostly measures
  waiting for a core);
- the time to replace a killed worker after a timeout, beyond the timeout itself.
"""

from __future__ import annotations

import statistics
import time

from _results import save

import trace_opt as trace
from trace_opt.errors import SandboxError
from trace_opt.sandbox import Sandbox, SandboxLimits, isolation, use_sandbox

SOURCE = "def f(x):\n    return x + 1\n"


def per_call_us(fn, n: int = 2000) -> list[float]:
    runs = []
    for _ in range(5):
        t = time.perf_counter()
        for i in range(n // 5):
            fn(i)
        runs.append((time.perf_counter() - t) / (n // 5) * 1e6)
    return runs


def measure(kind: str) -> dict[str, float]:
    colds = []
    for i in range(5):
        sb = Sandbox(SandboxLimits(timeout=1, workers=1), isolation=kind)
        t = time.perf_counter()
        sb.call(SOURCE.replace("+ 1", f"+ {i}"), "f", (1,))
        colds.append((time.perf_counter() - t) * 1000)
        sb.close()

    sb = Sandbox(SandboxLimits(timeout=1, workers=1), isolation=kind)

    @trace.bundle(trainable=True)
    def f(x):
        return x

    @trace.bundle(trainable=True, sandbox=False)
    def g(x):
        return x

    f.parameter._set(SOURCE)
    g.parameter._set(SOURCE.replace("def f", "def g"))
    with use_sandbox(sb):
        f(0)
        sandboxed = per_call_us(f)
    trusted = per_call_us(g)
    overhead = statistics.median(s - t for s, t in zip(sandboxed, trusted))
    cpu = cpu_per_call_us(sb)
    t = time.perf_counter()
    try:
        sb.call("def f(x):\n    while True:\n        pass\n", "f", (1,))
    except SandboxError:
        pass
    sb.call(SOURCE, "f", (1,))
    recover = (time.perf_counter() - t) * 1000 - 1000
    sb.close()
    return {
        "cold_start_ms": round(statistics.median(colds), 1),
        "warm_call_in_process_us": round(statistics.median(trusted), 1),
        "warm_call_sandboxed_us": round(statistics.median(sandboxed), 1),
        "warm_call_overhead_us": round(overhead, 1),
        "replace_after_timeout_ms": round(recover, 1),
        "warm_call_cpu_us": round(cpu, 1),
    }


def cpu_per_call_us(sb: Sandbox, n: int = 2000) -> float:
    """CPU time (both processes, user + system) a warm sandboxed call costs: unlike wall time
    on a shared machine, it does not grow with the load average."""
    probe = "def f(x):\n    import resource\n    r = resource.getrusage(resource.RUSAGE_SELF)\n    return r.ru_utime + r.ru_stime\n"
    first = sb.call(probe, "f", (0,))
    parent = time.process_time()
    for i in range(n):
        last = sb.call(probe, "f", (i,))
    return ((time.process_time() - parent) + (last - first)) / n * 1e6


def main() -> None:
    kinds = ["os", "process"] if isolation.unavailable_reason() is None else ["process"]
    figures = {}
    for kind in kinds:
        figures[kind] = m = measure(kind)
        print(f"[{kind}]")
        print(f"  {'cold start (new worker, first call)':42} {m['cold_start_ms']:9.1f} ms")
        print(f"  {'traced call, rewritten code, in process':42} {m['warm_call_in_process_us']:9.1f} us")
        print(f"  {'traced call, rewritten code, sandboxed':42} {m['warm_call_sandboxed_us']:9.1f} us")
        print(f"  {'sandbox overhead per call (warm worker)':42} {m['warm_call_overhead_us']:9.1f} us")
        print(f"  {'CPU per warm call, both processes':42} {m['warm_call_cpu_us']:9.1f} us")
        print(f"  {'replace a killed worker after a timeout':42} {m['replace_after_timeout_ms']:9.1f} ms")
    save("sandbox", figures, notes="medians; os = bubblewrap namespaces + seccomp, process = opt-in plain worker")


if __name__ == "__main__":
    main()
