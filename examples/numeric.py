"""Optimise a number, then a small function, from textual feedback only.

    python examples/numeric.py                          # offline, scripted stand-in LLM
    python examples/numeric.py --llm openai/gpt-4o-mini

1. A number: find ``x`` minimising ``(x - 7.3)**2``. The feedback says the loss and whether
   ``x`` should go up or down -- never the answer.
2. A function: make ``f`` match examples; the first draft raises, so the first feedback is
   the exception. Feedback lists the mismatches ("f(2) returned 0, expected 5").

Offline, a ``FunctionLLM`` stands in for the optimizer's model: it reads the prompt -- the
current value in #Variables, the past values and feedback in the memory, the mismatches in
#Feedback -- and answers as a model would (bisection on the number, a line through the
reported points for the function).
"""

from __future__ import annotations

import argparse
import json
import logging
import re
from typing import Any

import trace_opt as trace
from optimizers import OptoPrime
from trace_opt.llm import FunctionLLM, resolve

TARGET = 7.3


def number_feedback(x: float) -> tuple[float, str]:
    loss = (x - TARGET) ** 2
    direction = "increase" if x < TARGET else "decrease"
    return -loss, f"The loss is {loss:.4f}; {direction} x to reduce it." if loss > 1e-4 else "The loss is 0. Perfect."


@trace.bundle(trainable=True)
def f(x):
    """A function of one number; the feedback says what it should return."""
    return 1 / (x - x)


EXAMPLES = [(0, 1), (2, 5), (3, 7), (10, 21)]


def function_feedback(out: Any) -> str:
    wrong = [f"f({x}) returned {y!r}, expected {want}" for (x, want), y in zip(EXAMPLES, out) if y != want]
    return "; ".join(wrong) or "All examples are correct."


# -- the offline stand-in model ---------------------------------------------------------------


def stand_in(messages: list[dict[str, Any]], **params: Any) -> str:
    prompt = "\n".join(m["content"] for m in messages if m["role"] == "user")
    code = re.search(r"^\(code\) (__code_\d+):", prompt, re.M)
    if code:
        points = [(int(a), int(b)) for a, b in re.findall(r"f\((-?\d+)\) returned .*?, expected (-?\d+)", prompt)]
        if not points:  # only exceptions so far: first make it run
            body = "def f(x):\n    return 0"
        else:
            (x1, y1), (x2, y2) = points[0], points[-1] if len(points) > 1 else (points[0][0] + 1, points[0][1])
            slope = (y2 - y1) / (x2 - x1) if x2 != x1 else 0
            body = f"def f(x):\n    return {slope:g} * x + {y1 - slope * x1:g}"
        return json.dumps({"reasoning": "fit the reported points", "suggestion": {code.group(1): body}})
    name, value = re.search(r"^\(float\) (x_\d+) = (\S+)$", prompt, re.M).groups()
    tried = [(float(v), fb) for v, fb in re.findall(r'"x_\d+": ([-\d.e]+)\}, "feedback": "([^"]*)"', prompt)]
    tried.append((float(value), prompt.split("#Feedback\n")[1].split("\n")[0]))
    low = max([v for v, fb in tried if "increase" in fb], default=float(value) - 16)
    high = min([v for v, fb in tried if "decrease" in fb], default=float(value) + 16)
    return json.dumps({"reasoning": f"the optimum is between {low} and {high}", "suggestion": {name: (low + high) / 2}})


def optimise_number(llm: Any, steps: int) -> float:
    x = trace.node(0.0, trainable=True, name="x", description="the number to tune")
    opt = OptoPrime([x], llm=llm, memory_size=10, objective="Change x to make the loss as small as possible.")
    for _ in range(steps):
        score, text = number_feedback(x.data)
        print(f"x = {x.data:.4f}  {text}")
        if score > -1e-4:
            break
        opt.zero_feedback()
        opt.backward(x * 1.0, text, score=score)
        opt.step()
    return x.data


def optimise_function(llm: Any, steps: int) -> str:
    opt = OptoPrime([f.parameter], llm=llm)
    for _ in range(steps):
        outputs, fbs = [], []
        for x, _ in EXAMPLES:
            try:
                outputs.append(f(x))
            except trace.ExecutionError as e:
                outputs.append(e.exception_node)
        values = [o.data if o.kind != "exception" else None for o in outputs]
        text = function_feedback(values)
        print(f"outputs {values}: {text}")
        if text.startswith("All"):
            break
        opt.zero_feedback()
        for o, (x, want), y in zip(outputs, EXAMPLES, values):
            fbs.append(o.data if o.kind == "exception" else f"f({x}) returned {y!r}, expected {want}")
            opt.backward(o, fbs[-1])
        opt.step()
    return f.parameter.data


def main(argv: list[str] | None = None) -> tuple[float, str]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--llm", help="the optimizer's backend, e.g. openai/gpt-4o-mini or local")
    parser.add_argument("--steps", type=int, default=12)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    llm = resolve(args.llm) if args.llm else FunctionLLM(stand_in, name="numeric-stand-in")
    if not args.llm:
        print("note: a scripted stand-in (FunctionLLM) plays the model, offline; its answers are written in this file, not learned -- pass --llm local or --llm openai/gpt-4o-mini for a real model")
    number = optimise_number(llm, args.steps)
    print(f"\nbest x = {number:.4f} (target {TARGET})\n")
    code = optimise_function(llm, args.steps)
    print(f"\nlearned:\n{code}")
    return number, code


if __name__ == "__main__":
    main()
