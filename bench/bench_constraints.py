"""Constrained decoding on the embedded local model: conformance and speed.

    python bench/bench_constraints.py [--samples 5] [--check-only]

First, with no model: how long `JSONSchema.check` (jsonschema) takes on typical replies, saved
to ``bench/results/constraints_check.json``; ``--check-only`` stops there.

For each constraint kind, ``--samples`` distinct samples are decoded under the constraint's
grammar (token masking) and checked; tokens/s is compared with unconstrained generation of
the same prompts (constrained answers are a few tokens, so the fixed cost of reading the
prompt dominates their tokens/s: ms per call is printed too). A generation session shows the KV prefix reuse: the time of a step that
continues the previous text against the same prompt sent cold.
"""

from __future__ import annotations

import argparse
import json
import time
import timeit
from dataclasses import asdict, dataclass, field

from _results import save

from trace_opt.constraints import Choice, Grammar, JSONSchema, Regex
from trace_opt.llm import LocalLLM, use_cache
from trace_opt.session import Session


@dataclass
class Person:
    name: str
    age: int


@dataclass
class Address:
    city: str
    country: str


@dataclass
class Customer:
    name: str
    age: int
    address: Address
    email: str | None = None
    tags: list[str] = field(default_factory=list)


# OptoPrime's reply schema (optimizers.suggest.suggestion_schema) for two parameters
REPLY = {
    "type": "object",
    "properties": {
        "reasoning": {"type": "string", "maxLength": 2000},
        "suggestion": {"type": "object", "properties": {"prompt_1": {"type": "string"}, "n_2": {"type": "integer"}}, "additionalProperties": False},
    },
    "required": ["reasoning", "suggestion"],
    "additionalProperties": False,
}


def check_speed() -> dict[str, float]:
    """Microseconds per call (best of 5 rounds) to make and to check `JSONSchema`s."""
    reply = json.dumps({"reasoning": "The output was too long; shorten the instruction. " * 4, "suggestion": {"prompt_1": "Answer in one word.", "n_2": 3}})
    customers = json.dumps([asdict(Customer(f"N{i}", 30 + i, Address("Oslo", "Norway"), None, ["a", "b"])) for i in range(10)])
    bad = customers.replace('"age": 35', '"age": "35"')
    start = time.perf_counter()
    c1 = JSONSchema(REPLY)
    c1.check(reply)
    first_ms = (time.perf_counter() - start) * 1000
    c2 = JSONSchema(list[Customer])
    assert c1.check(reply) and c2.check(customers) and not c2.check(bad)

    def us(fn: object, number: int) -> float:
        return round(min(timeit.repeat(fn, number=number, repeat=5)) / number * 1e6, 1)  # type: ignore[arg-type]

    return {
        "first JSONSchema(dict) and check, imports included (ms)": round(first_ms, 1),
        "JSONSchema(reply schema dict) again (us)": us(lambda: JSONSchema(REPLY), 200),
        "JSONSchema(list[Customer]) again and a first check (us)": us(lambda: JSONSchema(list[Customer]).check(customers), 20),
        "check an OptoPrime reply (us)": us(lambda: c1.check(reply), 500),
        "check 10 Customer objects, valid (us)": us(lambda: c2.check(customers), 100),
        "check 10 Customer objects, one error (us)": us(lambda: c2.check(bad), 100),
    }


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
    parser.add_argument("--check-only", action="store_true", help="measure JSONSchema.check only (no model)")
    args = parser.parse_args()
    figures = check_speed()
    for name, value in figures.items():
        print(f"{name:58} {value:10.1f}")
    print("saved", save("constraints_check", figures, notes="JSONSchema.check is jsonschema (Draft 2020-12); types via pydantic"))
    if args.check_only:
        return
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
