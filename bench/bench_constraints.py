"""Constrained decoding on the embedded local model: conformance and speed.

    python bench/bench_constraints.py [--samples 5]

For each constraint kind, ``--samples`` distinct samples are decoded under the constraint's
grammar (token masking) and checked; tokens/s is compared with unconstrained generation of
the same prompts (constrained answers are a few tokens, so the fixed cost of reading the
prompt dominates their tokens/s: ms per call is printed too). A generation session shows the KV prefix reuse: the time of a step that
continues the previous text against the same prompt sent cold.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass

from trace_opt.constraints import Choice, Grammar, JSONSchema, Regex
from trace_opt.llm import LocalLLM, use_cache
from trace_opt.session import Session


@dataclass
class Person:
    name: str
    age: int


CASES = [
    ("choice", "Is 'I loved this film' positive or negative?", Choice(["positive", "negative"])),
    ("regex", "What is 17 + 25?", Regex(r"-?[0-9]{1,4}")),
    ("json schema", "Invent a person with a name and an age.", JSONSchema(Person)),
    ("grammar", "Write a sum of two small numbers.", Grammar('root ::= num " + " num\nnum ::= [1-9] [0-9]?')),
    ("sequence", "Name a color.", "The color is " + Choice(["red", "green", "blue"]) + "."),
]


def run(llm: LocalLLM, prompt: str, constraint: object, samples: int) -> tuple[int, int, float]:
    ok = tokens = 0
    start = time.perf_counter()
    for i in range(samples):
        r = llm.complete(prompt, constraint=constraint, sample_id=i, max_tokens=48)
        tokens += r.usage.completion_tokens
        ok += bool(constraint.check(r.text)) if constraint is not None else 1
    return ok, tokens, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=int, default=5)
    args = parser.parse_args()
    llm = LocalLLM(temperature=0.9)
    llm.load()
    print(f"{'constraint':12} {'conform':>9} {'tok/s constrained':>18} {'tok/s free':>11} {'ms/call constrained':>20} {'ms/call free':>13}")
    with use_cache(None):
        for label, prompt, constraint in CASES:
            ok, tok, secs = run(llm, prompt, constraint, args.samples)
            _, ftok, fsecs = run(llm, prompt, None, args.samples)
            n = args.samples
            print(f"{label:12} {ok:>4}/{n:<4} {tok / secs:18.1f} {ftok / fsecs:11.1f} {secs / n * 1000:20.0f} {fsecs / n * 1000:13.0f}")
        long_text = "Notes: " + " ".join(f"item {i} is fine;" for i in range(60))
        s = Session("Continue the notes.", llm=llm).append(long_text)
        s.gen("a", max_tokens=4)
        t = time.perf_counter()
        s.append(" Next: ").gen("b", max_tokens=4)
        warm = time.perf_counter() - t
        llm.load().reset()
        t = time.perf_counter()
        Session("Continue the notes.", llm=llm, text=s.text.data[: -len(s.vars["b"].data)]).gen(max_tokens=4, sample_id="cold")
        cold = time.perf_counter() - t
    print(f"session step continuing a {len(long_text)}-char text: {warm * 1000:.0f} ms with the KV prefix reused, "
          f"{cold * 1000:.0f} ms recomputed")  # fmt: skip


if __name__ == "__main__":
    main()
