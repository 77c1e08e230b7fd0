"""Proposal distributions as FunctionLLM bodies: seeded, so every test is deterministic.

Each reads what a model would read -- the current value under #Variables, the output and the
target in #Feedback -- and draws its suggestion from a distribution seeded by the prompt and
the ``sample_id``: the same request gives the same answer, distinct samples differ.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import threading
from typing import Any

TARGET = 7.3


def rng(prompt: str, sample_id: Any, calls: int, seed: int = 0) -> random.Random:
    """Seeded by the request (and, without a sample id, by the call count, like a hosted model)."""
    key = f"{seed}|{prompt}|{sample_id if sample_id is not None else f'call{calls}'}"
    return random.Random(int(hashlib.sha256(key.encode()).hexdigest()[:12], 16))


def reply(suggestion: dict[str, Any]) -> str:
    return json.dumps({"reasoning": "a guess", "suggestion": suggestion})


class NoisyNumber:
    """Reads x, the output and the target; proposes ``x + gap * U(0, 6)``: the right direction,
    a wildly miscalibrated step (a weak model's guess). Most suggestions overshoot and are
    worse than x; a few are much better."""

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed
        self.calls = 0
        self.lock = threading.Lock()

    def __call__(self, messages: list[dict[str, Any]], sample_id: Any = None, **params: Any) -> str:
        prompt = messages[-1]["content"]
        with self.lock:
            self.calls += 1
            calls = self.calls
        name, value = re.search(r"^\(float\) (\w+) = (\S+)$", prompt, re.M).groups()
        out = float(re.search(r"The output is (\S+?);", prompt).group(1))
        want = float(re.search(r"it should be (-?[\d.]*\d)", prompt).group(1))
        return reply({name: round(float(value) + (want - out) * rng(prompt, sample_id, calls, self.seed).uniform(0, 6), 6)})


def number_feedback(_: Any, out: float, want: float) -> tuple[float, str]:
    return -abs(out - want), f"The output is {out}; it should be {want}."
