"""OptoPrime prompt size and ``propose()`` time on large graphs, side by side with Trace.

    python bench/bench_optimizers.py                    # 100 / 1,000 / 10,000-op string chains
    python bench/bench_optimizers.py --sizes 100 1000 --budget 4000

The graph is a string chain ``y = x + "ab" + "ab" + ...`` with one trainable ``x`` (N
operations, 2N + 1 nodes): every intermediate value is longer than the last, the case where
an unbounded prompt explodes. ``propose()`` is timed with the LLM excluded: a
``FunctionLLM`` returns a fixed valid reply and the cache is off, so the time is rendering,
reading the reply and checking the value.

If Microsoft Trace (``opto``) is importable, its OptoPrime prompt is built on the same chain
without calling an LLM (``summarize`` + ``construct_prompt``), in a subprocess with a
timeout. Trace imports ``black`` only to reformat suggested code; a stub stands in when it is
not installed (prompt construction never calls it).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _results import save

import trace_opt as trace  # noqa: E402
from optimizers import OptoPrime  # noqa: E402
from trace_opt.llm import FunctionLLM, use_cache  # noqa: E402


def ours(n: int, budget: int) -> dict[str, Any]:
    x = trace.node("start", trainable=True, name="x")
    y = x
    for _ in range(n):
        y = y + "ab"
    reply = json.dumps({"reasoning": "shorter", "suggestion": {x.py_name: "s"}})
    opt = OptoPrime([x], llm=FunctionLLM(lambda m, **kw: reply), max_prompt_tokens=budget)
    t0 = time.perf_counter()
    opt.zero_feedback()
    opt.backward(y, "the output is too long")
    backward = time.perf_counter() - t0
    with use_cache(None):
        opt.propose()  # warm up
        runs = []
        for _ in range(3):
            t0 = time.perf_counter()
            proposal = opt.propose()
            runs.append(time.perf_counter() - t0)
    chars = sum(len(m["content"]) for m in proposal.messages)
    return {"chars": chars, "propose_s": min(runs), "backward_s": backward, "omitted": proposal.details["omitted_ops"]}


TRACE_WORKER = r"""
import json, os, sys, time, types
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
try:
    import black  # noqa: F401
except ImportError:
    stub = types.ModuleType("black")
    stub.format_str = lambda s, mode=None: s
    stub.FileMode = lambda **kw: None
    sys.modules["black"] = stub
import logging; logging.disable(logging.WARNING)
from opto import trace
from opto.optimizers import OptoPrime
from opto.utils.llm import AbstractModel
n = int(sys.argv[1])
x = trace.node("start", trainable=True)
y = x
for _ in range(n):
    y = y + "ab"
opt = OptoPrime([x], llm=AbstractModel(lambda: None))
t0 = time.perf_counter()
opt.zero_feedback()
opt.backward(y, "the output is too long")
backward = time.perf_counter() - t0
t0 = time.perf_counter()
system, user = opt.construct_prompt(opt.summarize())
prompt = time.perf_counter() - t0
print(json.dumps({"chars": len(system) + len(user), "prompt_s": prompt, "backward_s": backward}))
"""


def theirs(n: int, timeout: float) -> dict[str, Any] | str:
    env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    try:
        res = subprocess.run([sys.executable, "-c", TRACE_WORKER, str(n)], capture_output=True, text=True,
                             timeout=timeout, env=env)  # fmt: skip
    except subprocess.TimeoutExpired:
        return f"> {timeout:.0f}s"
    if res.returncode != 0:
        return "error: " + (res.stderr.strip().splitlines() or ["?"])[-1][:60]
    return json.loads(res.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def trace_available() -> bool:
    code = "import importlib.util, sys; sys.exit(importlib.util.find_spec('opto') is None)"
    return subprocess.run([sys.executable, "-c", code]).returncode == 0


def main() -> None:
    parser = argparse.ArgumentParser(description="OptoPrime prompt size and propose() time")
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1000, 10000])
    parser.add_argument("--budget", type=int, default=8000, help="our max_prompt_tokens")
    parser.add_argument("--trace-timeout", type=float, default=600.0)
    parser.add_argument("--no-trace", action="store_true")
    args = parser.parse_args()
    with_trace = not args.no_trace and trace_available()
    head = f"{'ops':>6} {'nodes':>6} | {'chars':>9} {'propose':>9} {'backward':>9} {'omitted':>7}"
    head += f" | {'Trace chars':>12} {'prompt':>9} {'backward':>9}" if with_trace else ""
    print(f"OptoPrime, string chain, max_prompt_tokens={args.budget}")
    print(head + "\n" + "-" * len(head))
    figures: dict[str, object] = {"budget tokens": args.budget}
    for n in args.sizes:
        r = ours(n, args.budget)
        figures[f"{n} ops"] = {"chars": r["chars"], "propose ms": round(r["propose_s"] * 1e3, 1),
                               "backward ms": round(r["backward_s"] * 1e3, 1), "omitted": r["omitted"]}
        line = (f"{n:>6} {2 * n + 1:>6} | {r['chars']:>9,} {r['propose_s'] * 1e3:>7.1f}ms "
                f"{r['backward_s'] * 1e3:>7.1f}ms {r['omitted']:>7}")  # fmt: skip
        if with_trace:
            t = theirs(n, args.trace_timeout)
            figures[f"{n} ops, Trace"] = t if isinstance(t, str) else {
                "chars": t["chars"], "prompt ms": round(t["prompt_s"] * 1e3, 1), "backward ms": round(t["backward_s"] * 1e3, 1)}
            line += (f" | {t:>33}" if isinstance(t, str) else
                     f" | {t['chars']:>12,} {t['prompt_s'] * 1e3:>7.1f}ms {t['backward_s'] * 1e3:>7.1f}ms")  # fmt: skip
        print(line, flush=True)
    if not with_trace:
        print("(Trace not measured: pip install --no-deps trace-opt, with litellm installed)")
    save("optimizers", figures)


if __name__ == "__main__":
    main()
