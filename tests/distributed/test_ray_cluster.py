"""A simulated two-node cluster (``ray.cluster_utils.Cluster``): joined through ``RAY_ADDRESS``
as users point at a real one; tasks spread over both nodes and come back on the driver's graph."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

import trace_opt as trace
from trace_opt.distributed import last_tasks

ray = pytest.importorskip("ray")
cluster_utils = pytest.importorskip("ray.cluster_utils")

hint = trace.node("think step by step", trainable=True, name="hint")


@trace.bundle()
def slow_answer(hint, question):
    """Takes a while, like a tool call."""
    time.sleep(1.0)
    return f"{question} ({hint})"


def answer(question: Any) -> Any:
    return slow_answer(hint, question)


@pytest.fixture
def two_nodes(_ray_session: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    if ray.is_initialized():
        ray.shutdown()  # the local instance of the other tests; they start it again when needed
    cluster = cluster_utils.Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    cluster.add_node(num_cpus=1)
    cluster.wait_for_nodes()
    monkeypatch.setenv("RAY_ADDRESS", cluster.address)
    try:
        yield cluster
    finally:
        ray.shutdown()
        cluster.shutdown()


def test_map_spreads_over_two_nodes_with_the_driver_graph(two_nodes: Any) -> None:
    questions = [trace.node(f"q{i}", name="question") for i in range(4)]
    outs = trace.map(answer, questions, concurrency=2, executor="ray")  # joins via RAY_ADDRESS
    assert ray.is_initialized() and len({n["NodeID"] for n in ray.nodes() if n["Alive"]}) == 2
    assert [o.data for o in outs] == [f"q{i} (think step by step)" for i in range(4)]
    assert all(o.parents[0] is hint and o.parents[1] is q for o, q in zip(outs, questions))
    assert len({r.node for r in last_tasks()}) == 2  # one CPU per node, two tasks at once: both used
    outs[3].backward("too vague")
    assert hint.feedback and questions[3].feedback and not questions[0].feedback
