"""How often evaluation noise is mistaken for progress: "higher mean wins" vs the paired comparison.

    python bench/bench_noise.py                 # 1000 trials per cell (a few minutes)
    python bench/bench_noise.py --trials 200    # quicker, noisier figures
    python bench/bench_noise.py --examples 32 --trials 500   # bench/results/bench_noise-32.json

A controlled-proposal task: the parameter ``x`` names a candidate whose true quality is known
-- the start (``x = 0``) has quality 0.5, every proposal has quality 0.5 (``noise``: it is
no better) or 0.5 + delta (``better``: it is). An evaluation of a candidate on an example is
a coin with probability quality + that example's difficulty offset (uniform in [-0.3, 0.3],
the same for every candidate, so the examples differ and pairing can cancel that), drawn
afresh each time, as an LLM agent sampled at a temperature would give. The proposal model
(``FunctionLLM``) proposes a new candidate every sample. Each trial is one real run of the
library's own trainers, with a fixed seed per trial:

- ``beam``: ``BeamSearch(k=4, beam_width=1)``, one step on a minibatch of all the examples: the
  best of the start and four proposals is kept;
- ``step``: ``train(trainer="step", valset=<as many examples>)``, one suggestion, then
  ``restore_best``.

A trial "keeps a proposal" when ``x`` is not 0 at the end. With ``noise`` proposals that is
noise mistaken for progress; with ``better`` proposals, not keeping one is a real
improvement rejected. Each cell is run with ``confidence=0`` (the old rule: a higher mean
wins) and with the default paired comparison (``confidence=0.9``).
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import trace_opt as trace  # noqa: E402
from _results import save  # noqa: E402
from optimizers import BeamSearch, OptoPrime, train  # noqa: E402
from trace_opt.llm import FunctionLLM  # noqa: E402

BASE, SPREAD = 0.5, 0.3
EXAMPLES = 8  # per minibatch and in the valset (--examples)


class Task:
    """One trial's world: example difficulties, the proposal model and the noisy judge."""

    def __init__(self, seed: int, delta: float) -> None:
        self.rng = random.Random(seed)
        self.offsets = [self.rng.uniform(-SPREAD, SPREAD) for _ in range(2 * EXAMPLES)]
        self.delta = delta
        self.next_id = 0

    def quality(self, x: int) -> float:
        return BASE if x == 0 else BASE + self.delta

    def propose(self, messages: list[dict[str, Any]], **_: Any) -> str:
        self.next_id += 1
        return json.dumps({"reasoning": "", "suggestion": {"x": self.next_id}})

    def judge(self, example: int, x: Any, _: Any) -> tuple[float, str]:
        p = min(0.98, max(0.02, self.quality(int(x)) + self.offsets[example]))
        ok = self.rng.random() < p
        return float(ok), "right" if ok else "wrong"


def trial(method: str, seed: int, delta: float, confidence: float) -> bool:
    """One run; whether it kept a proposal (``x != 0`` at the end)."""
    task = Task(seed, delta)
    x = trace.node(0, trainable=True, name="x")
    opt = OptoPrime([x], llm=FunctionLLM(task.propose, name="proposals"), max_reasks=0)
    train_set = [(i, None) for i in range(EXAMPLES)]
    if method == "beam":
        BeamSearch(k=4, beam_width=1).train(lambda _: x + 0, train_set, task.judge, opt, steps=1, batch_size=EXAMPLES,
                                            concurrency=1, seed=seed, confidence=confidence)  # fmt: skip
    else:
        val = [(EXAMPLES + i, None) for i in range(EXAMPLES)]
        train(lambda _: x + 0, train_set, task.judge, opt, trainer="step", batch_size=EXAMPLES, valset=val,
              concurrency=1, seed=seed, confidence=confidence)  # fmt: skip
    return bool(x.data != 0)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=1000, help="trials per cell (default 1000)")
    parser.add_argument("--delta", type=float, default=0.2, help="how much better a 'better' proposal is (default 0.2)")
    parser.add_argument("--examples", type=int, default=8, help="examples per minibatch and in the valset (default 8)")
    args = parser.parse_args(argv)
    global EXAMPLES
    EXAMPLES = args.examples
    logging.basicConfig(level=logging.WARNING)
    rows = []
    t0 = time.perf_counter()
    for method in ("beam", "step"):
        for proposals, delta in (("noise", 0.0), ("better", args.delta)):
            for rule, confidence in (("higher mean wins", 0.0), ("paired, confidence 0.9", 0.9)):
                kept = sum(trial(method, seed, delta, confidence) for seed in range(args.trials))
                rows.append({"method": method, "proposals": proposals, "rule": rule, "trials": args.trials,
                             "kept": kept, "kept_pct": round(100 * kept / args.trials, 1)})  # fmt: skip
                sys.stderr.write(json.dumps(rows[-1]) + "\n")
    seconds = round(time.perf_counter() - t0, 1)
    head = ["method", "proposals", "rule", "kept a proposal"]
    cells = [head] + [[r["method"], r["proposals"], r["rule"], f"{r['kept']}/{r['trials']} ({r['kept_pct']}%)"]
                      for r in rows]  # fmt: skip
    widths = [max(len(row[i]) for row in cells) for i in range(len(head))]
    sys.stdout.write("\n".join("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in cells) + "\n")
    figures = {"trials": args.trials, "delta": args.delta, "examples": EXAMPLES, "base_quality": BASE,
               "difficulty_spread": SPREAD, "seconds": seconds, "rows": rows}  # fmt: skip
    save("bench_noise" if EXAMPLES == 8 else f"bench_noise-{EXAMPLES}", figures, notes="kept: trials whose final x is a proposal, not the start. With 'noise' "
         "proposals (no better than the start) that is noise mistaken for progress; with 'better' proposals "
         "(true quality + delta) not keeping one is a real improvement rejected.")  # fmt: skip
    return figures


if __name__ == "__main__":
    main()
