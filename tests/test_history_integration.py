"""Every optimizer step commits the parameters it changed to the active store."""

from __future__ import annotations

import json
from typing import Any

import trace_opt as trace
from optimizers import OptoPrime, train
from trace_opt.llm import FunctionLLM
from trace_opt.store import Store, use_store


@trace.model
class Agent:
    def __init__(self) -> None:
        self.k = trace.node(1, trainable=True, name="k")

    def __call__(self, x: Any) -> Any:
        return x * self.k


def test_training_steps_become_versions_that_check_out() -> None:
    replies = iter([3, 2])
    llm = FunctionLLM(lambda m, **kw: json.dumps({"reasoning": "", "suggestion": {"k": next(replies)}}))
    agent = Agent()
    store = Store()
    opt = OptoPrime(agent.parameters(), llm=llm)
    with use_store(store):
        train(agent, [(1, 2), (2, 4)], lambda x, y, want: (float(y == want), f"want {want}"),
              opt, batch_size=2, epochs=2, shuffle=False, restore_best=False)  # fmt: skip
    versions = store.history(agent)
    assert len(versions) == 2  # k: 1 -> 3 -> 2, newest first
    assert versions[0].parent == versions[1].ref and versions[0].message == "OptoPrime step 2"
    assert [r.get("version") for r in opt.log] == [versions[1].ref.digest, versions[0].ref.digest]
    agent.load_state_dict(store.checkout(versions[-1].ref))
    assert agent.k.data == 3
    assert store.diff(versions[-1].ref, versions[0].ref)


def test_no_active_store_writes_nothing() -> None:
    llm = FunctionLLM(lambda m, **kw: json.dumps({"reasoning": "", "suggestion": {"k": 5}}))
    agent = Agent()
    opt = OptoPrime(agent.parameters(), llm=llm)
    opt.backward(agent(1), "bigger")
    record = opt.step()
    assert agent.k.data == 5 and "version" not in record
