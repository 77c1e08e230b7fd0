"""What secret redaction costs, and proof that traced calls do not pay it.

    python bench/bench_secrets.py

1. ``redact_text`` on optimizer-sized prompts (2 KB, 20 KB, 200 KB) with 0, 5 and 50
   credential-like variables in the environment: microseconds per prompt.
2. ``LLM.request`` (where every prompt is redacted) for a 20 KB prompt, with and without
   secrets in the environment.
3. ``Store.commit`` of a 200-string object (every stored string is redacted), with and
   without secrets, and with redaction switched off (the baseline it adds to).
4. A traced ``@bundle`` call, with and without secrets (and with redaction off): redaction
   is not on this path, so they should match within noise.
"""

from __future__ import annotations

import hashlib
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _results import save  # noqa: E402

import trace_opt as trace  # noqa: E402
from trace_opt import secrets  # noqa: E402
from trace_opt.llm import FunctionLLM  # noqa: E402
from trace_opt.llm import base  # noqa: E402
from trace_opt.store import Store, canonical  # noqa: E402


class _NoSecrets:
    """A redaction table that knows no secret: what the code paths cost without redaction."""

    def text(self, text: str) -> str:
        return text

    def obj(self, value: Any) -> Any:
        return value


_NONE = _NoSecrets()


def per_call_us(fn: Callable[[], Any], seconds: float = 0.5) -> float:
    """Median of five timings of a batch, in microseconds per call."""
    fn()
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds / 5:
        fn()
        n += 1
    samples = []
    for _ in range(5):
        t = time.perf_counter()
        for _ in range(n):
            fn()
        samples.append((time.perf_counter() - t) / n * 1e6)
    return sorted(samples)[2]


def prompt(size: int) -> str:
    line = "(str) prompt_3 = Answer the question in one short sentence; feedback: too long.\n"
    return (line * (size // len(line) + 1))[:size]


def with_secrets(n: int) -> list[str]:
    names = [f"BENCH_SERVICE_{i}_API_KEY" for i in range(n)]
    for i, name in enumerate(names):
        os.environ[name] = "sk-" + hashlib.sha256(name.encode()).hexdigest()[:32]  # key-like, no shared prefix
    return names


def clear(names: list[str]) -> None:
    for name in names:
        del os.environ[name]


def main() -> None:
    figures: dict[str, Any] = {}
    for n in (0, 5, 50):
        names = with_secrets(n)
        for size in (2_000, 20_000, 200_000):
            text = prompt(size)
            figures[f"redact_text_{size // 1000}kb_{n}_secrets_us"] = round(per_call_us(lambda: secrets.redact_text(text)), 2)
        clear(names)
    figures["redactor_refresh_check_us"] = round(per_call_us(secrets.redactor), 2)

    llm = FunctionLLM(lambda m, **kw: "ok", name="bench")
    text = prompt(20_000)
    messages = [{"role": "system", "content": "You are an optimizer."}, {"role": "user", "content": text}]
    obj = {f"k{i}": f"value number {i} with some words in it" for i in range(200)}
    for n in (0, 5, "off"):
        names = with_secrets(5 if n == "off" else n)
        if n == "off":  # the baseline: every table lookup answers "no secrets"
            canonical.redactor = base.redactor = lambda: _NONE  # type: ignore[assignment]
        figures[f"llm_request_20kb_{n}_secrets_us"] = round(per_call_us(lambda: llm.request(messages, temperature=0)), 2)
        store = Store()
        figures[f"store_commit_200_strings_{n}_secrets_us"] = round(
            per_call_us(lambda: store.commit({**obj, "n": time.perf_counter_ns()})), 2
        )
        store.close()
        canonical.redactor, base.redactor = secrets.redactor, secrets.redactor

        @trace.bundle()
        def add(a: int, b: int) -> int:
            return a + b

        x = trace.node(1)
        figures[f"traced_call_{n}_secrets_us"] = round(per_call_us(lambda: add(x, 2)), 2)
        clear(names)
    for k, v in figures.items():
        print(f"{k:44s} {v:10.2f}")
    print("saved", save("secrets", figures, notes="microseconds per call, median of 5 batches"))


if __name__ == "__main__":
    main()
