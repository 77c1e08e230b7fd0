"""Reliability summary: faults injected and survived, bad inputs tried.

    python bench/bench_faults.py [--runs 5] [--inputs 2000]

1. Training runs whose backend fails transiently on 30% of attempts (rate limits, timeouts,
   dropped connections), each compared with the same run without faults: survived = the run
   finished with the same final parameters; lost calls = calls that never got an answer.
2. A run whose key goes bad mid-way: it must stop at once with the provider's message.
3. Random and adversarial replies fed to every reply parser and to a full optimizer step,
   random bytes fed to Module.load: anything but the library's typed errors is a crash.
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import re
import tempfile
from pathlib import Path
from typing import Any

import trace_opt as trace
from optimizers import OptoPrime, train
from optimizers.parsing import parse_suggestion
from trace_opt.errors import AuthenticationError, ConstraintViolation, ReplyParseError, StateDictError
from trace_opt.llm import Cache, FaultyLLM, FunctionLLM, RetryPolicy, use_cache
from trace_opt.llm.structured import extract_json, match_option

from _results import save

TARGET = 7.3
RATE = 0.3  # share of attempts that fail transiently


def model(messages: list[dict[str, Any]], **params: Any) -> str:
    prompt = "\n".join(m["content"] for m in messages)
    name, value = re.search(r"^\(float\) (x_\d+) = (\S+)$", prompt, re.M).groups()
    step = 4.0 if "increase" in prompt.split("#Feedback")[-1] else -4.0
    return json.dumps({"reasoning": "", "suggestion": {name: float(value) + step / (1 + prompt.count("loss"))}})


def judge(_i: Any, y: Any, _info: Any) -> tuple[float, str]:
    return -((y - TARGET) ** 2), f"loss {(y - TARGET) ** 2:.3f}: {'increase' if y < TARGET else 'decrease'} x"


def training(llm: Any, cache_dir: Path) -> float:
    x = trace.node(0.0, trainable=True, name="x")
    with use_cache(Cache(cache_dir)):
        train(lambda _: x * 1.0, [(i, None) for i in range(8)], judge, OptoPrime([x], llm=llm), batch_size=2, epochs=2, shuffle=False)
    return x.data


def faults(runs: int) -> dict[str, Any]:
    injected = survived = lost = attempts = 0
    for seed in range(runs):
        with tempfile.TemporaryDirectory() as tmp:
            clean = training(FunctionLLM(model, name="m"), Path(tmp) / "a")
            calls: list[int] = []
            inner = FunctionLLM(lambda m, **p: calls.append(1) or model(m, **p), name="m")
            faulty = FaultyLLM(inner, rate=RATE, seed=seed, retry=RetryPolicy(max_attempts=10, sleep=lambda s: None))
            try:
                got = training(faulty, Path(tmp) / "b")
                survived += got == clean
            except Exception:  # noqa: BLE001 - counted, not hidden
                lost += 1
            injected += faulty.injected
            attempts += faulty.attempts
    return {"runs": runs, "fault rate (%)": round(RATE * 100), "attempts": attempts, "faults injected": injected, "runs survived": survived, "runs lost": lost}


def permanent() -> str:
    faulty = FaultyLLM(FunctionLLM(model, name="m"), rate=0.0, permanent_after=2)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            training(faulty, Path(tmp))
    except AuthenticationError as e:
        return f"stopped after {faulty.attempts} attempts: {e.provider_message}"
    return "NOT STOPPED"


def bad_inputs(n: int) -> dict[str, int]:
    rng = random.Random(0)
    pieces = ['{"reasoning": "r", "suggestion": {', '"x_0": ', "3", "}", "```json\n", "```", "'", '"', "TERMINATE",
              "[1,", "null", "def f(x): return x", "\x00", "NaN", "{", "é", " "]  # fmt: skip
    tried = typed = crashes = 0
    x = trace.node(1.0, trainable=True, name="x")
    for _ in range(n):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 12)))
        for fn in (lambda t: parse_suggestion(t, ["x_0"]), extract_json, lambda t: match_option(t, ["yes", "no"])):
            tried += 1
            try:
                fn(text)
            except ValueError:
                typed += 1
            except Exception:  # noqa: BLE001
                crashes += 1
    for _ in range(n // 20):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 12)))
        before = x.data
        opt = OptoPrime([x], llm=FunctionLLM(lambda m, t=text, **p: t), max_reasks=0)
        opt.backward(x * 1.0, "wrong")
        tried += 1
        try:
            opt.step()
        except (ReplyParseError, ConstraintViolation):
            typed += 1
            crashes += x.data != before
        except Exception:  # noqa: BLE001
            crashes += 1
    with tempfile.TemporaryDirectory() as tmp:
        agent = trace.Module()
        agent.p = trace.node("v", trainable=True)  # type: ignore[attr-defined]
        for _ in range(n // 10):
            path = Path(tmp) / "m.json"
            path.write_bytes(rng.randbytes(rng.randint(0, 64)))
            tried += 1
            try:
                agent.load(path)
            except StateDictError:
                typed += 1
            except Exception:  # noqa: BLE001
                crashes += 1
    return {"bad inputs tried": tried, "typed errors": typed, "crashes": crashes}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--inputs", type=int, default=2000)
    args = parser.parse_args()
    logging.disable(logging.WARNING)  # the retries log each fault; the summary counts them
    figures = {**faults(args.runs), "permanent error": permanent(), **bad_inputs(args.inputs)}
    for key, value in figures.items():
        print(f"{key:20} {value}")
    save("faults", figures)


if __name__ == "__main__":
    main()
