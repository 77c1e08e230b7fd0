"""Search finds what one suggestion per step cannot, at the same LLM-call budget.

The proposal model (``models.NoisyNumber``) reads the output and the target and suggests
``x + gap * U(0, 6)``: the right direction, a wildly miscalibrated step -- most suggestions
are worse than x. One suggestion per step accepts them and wanders; search keeps the best of
k. Deterministic: every draw is seeded by the request, the sample id and the run's seed.
"""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

import trace_opt as trace
from models import TARGET, NoisyNumber, number_feedback, rng
from optimizers import GEPA, BeamSearch, Budget, OptoPrime, PrioritySearch, SearchTrainer, train
from trace_opt.llm import FunctionLLM, track_usage

CALLS, SEEDS, TOLERANCE = 32, range(10), 0.05


def hit_target(method: str, seed: int) -> tuple[float, int]:
    x = trace.node(0.0, trainable=True, name="x")
    model = NoisyNumber(seed)
    opt = OptoPrime([x], llm=FunctionLLM(model, name=f"noisy-{seed}"), max_reasks=0)
    data = [(None, TARGET)]
    if method == "step":
        with track_usage(max_calls=CALLS):
            train(lambda _: x * 1.0, data, number_feedback, opt, trainer="step", epochs=100, batch_size=1)
    else:
        trainers: dict[str, SearchTrainer] = {"beam": BeamSearch(k=4, beam_width=1), "priority": PrioritySearch(k=4),
                                              "gepa": GEPA(k=4)}  # fmt: skip
        trainers[method].train(lambda _: x * 1.0, data, number_feedback, opt, steps=100, budget=Budget(calls=CALLS))
    return abs(x.data - TARGET), model.calls


def test_one_suggestion_per_step_rarely_hits_the_target() -> None:
    results = [hit_target("step", s) for s in SEEDS]
    assert {calls for _, calls in results} == {CALLS}
    assert sum(gap <= TOLERANCE for gap, _ in results) <= 2


@pytest.mark.parametrize("method", ["beam", "priority", "gepa"])
def test_search_hits_the_target_with_the_same_calls(method: str) -> None:
    results = [hit_target(method, s) for s in SEEDS]
    assert {calls for _, calls in results} == {CALLS}
    assert sum(gap <= TOLERANCE for gap, _ in results) >= 6


VARIANTS = [f"def shift(x):\n    return x + {c}" for c in (-2, -1, 0, 2, 3)] + ["def shift(x):\n    return x + 1"]


def code_sampler(messages: list[dict[str, Any]], sample_id: Any = None, **kw: Any) -> str:
    """A model that writes one of six variants of the function at random (one is right)."""
    prompt = messages[-1]["content"]
    name = prompt.split("#Variables\n(code) ")[1].split(":")[0]
    return json.dumps({"reasoning": "", "suggestion": {name: rng(prompt, sample_id, 0).choice(VARIANTS)}})


def test_search_repairs_a_function_that_raises_from_random_code_variants() -> None:
    @trace.bundle(trainable=True)
    def shift(x):
        """Return x shifted by one."""
        return x + undefined  # noqa: F821

    data = [(n, n + 1) for n in (0, 4, 9)]
    log = BeamSearch(k=4).train(shift, data, lambda x, y, want: float(y == want), OptoPrime([shift.parameter],
                                llm=FunctionLLM(code_sampler)), steps=4, budget=Budget(calls=16), target_score=1.0)  # fmt: skip
    assert shift(41).data == 42 and log.best_score == 1.0 and log.stop == "target score reached"
    assert any(r["values"][shift.parameter.py_name].endswith("x + 1") for r in log.candidates.scored()[:1])


def test_best_of_k_never_keeps_a_worse_candidate() -> None:
    x = trace.node(5, trainable=True, name="x")
    llm = FunctionLLM(lambda m, sample_id, **kw: json.dumps(
        {"reasoning": "", "suggestion": {"x": random.Random(sample_id).randint(0, 100)}}))  # fmt: skip
    log = BeamSearch(k=3, beam_width=1).train(lambda _: x + 0, [(None, 0)], lambda _, y, want: -abs(y - want),
                                              OptoPrime([x], llm=llm), steps=5)  # fmt: skip
    bests = [r["best"] for r in log]
    tried = [list(r["values"].values())[0] for r in log.candidates if r["status"] in ("initial", "scored")]
    assert bests == sorted(bests) and len(tried) > 5
    assert x.data == min(tried) and log.best_score == -min(tried)
