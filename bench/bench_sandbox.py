"""Cost of running optimizer-written code in the sandbox (trace_opt.sandbox).

    python bench/bench_sandbox.py

Prints the cold start of a worker, the per-call overhead with a warm pool (a traced call of a
rewritten function, in the sandbox vs the same code trusted in process), and the time to
recover from a timeout.
"""

from __future__ import annotations

import statistics
import time

import trace_opt as trace
from trace_opt.errors import SandboxError
from trace_opt.sandbox import Sandbox, SandboxLimits, use_sandbox

SOURCE = "def f(x):\n    return x + 1\n"


def per_call_us(fn, n: int = 2000) -> float:
    runs = []
    for _ in range(5):
        t = time.perf_counter()
        for i in range(n // 5):
            fn(i)
        runs.append((time.perf_counter() - t) / (n // 5) * 1e6)
    return statistics.median(runs)


def main() -> None:
    sb = Sandbox(SandboxLimits(timeout=1, workers=1))
    t = time.perf_counter()
    sb.call(SOURCE, "f", (1,))
    cold = (time.perf_counter() - t) * 1000

    @trace.bundle(trainable=True)
    def f(x):
        return x

    @trace.bundle(trainable=True, sandbox=False)
    def g(x):
        return x

    f.parameter._set(SOURCE)
    g.parameter._set(SOURCE.replace("def f", "def g"))
    with use_sandbox(sb):
        sandboxed = per_call_us(f)
    trusted = per_call_us(g)
    t = time.perf_counter()
    try:
        sb.call("def f(x):\n    while True:\n        pass\n", "f", (1,))
    except SandboxError:
        pass
    sb.call(SOURCE, "f", (1,))
    recover = (time.perf_counter() - t) * 1000 - 1000
    sb.close()
    print(f"{'worker cold start':42} {cold:9.1f} ms")
    print(f"{'traced call, rewritten code, in process':42} {trusted:9.1f} us")
    print(f"{'traced call, rewritten code, sandboxed':42} {sandboxed:9.1f} us")
    print(f"{'sandbox overhead per call (warm pool)':42} {sandboxed - trusted:9.1f} us")
    print(f"{'replace a killed worker after a timeout':42} {recover:9.1f} ms")


if __name__ == "__main__":
    main()
