"""Same graph on Ray as in process: parents are the driver's nodes, backward reaches exactly the
ancestors, an OptoPrime step renders the very same prompt, and failures come back as nodes."""

from __future__ import annotations

from typing import Any

import pytest

import trace_opt as trace
from trace_opt.bundle import _SELF_NODE, RESERVED
from trace_opt.distributed import last_tasks
from trace_opt.graph import ancestors, topological_order
from trace_opt.llm import DummyLLM


class Agent(trace.Module):
    def __init__(self) -> None:
        self.instruction = trace.node("Answer in one word.", trainable=True, name="instruction")

    @trace.bundle(trainable=True)
    def solve(self, instruction, question):
        """Answer the question following the instruction."""
        if "boom" in question:
            raise ValueError(f"cannot answer {question!r}")
        return f"{instruction} -> {question.upper()}"

    def forward(self, question):
        return self.solve(self.instruction, question) + "."


def run(executor: str) -> tuple[Agent, list[Any], list[Any]]:
    agent = Agent()
    questions = [trace.node(q, name="question") for q in ("sky?", "sea?", "boom?", "grass?")]
    outs = trace.map(agent.forward, questions, concurrency=2, executor=executor, return_exceptions=True)
    return agent, questions, outs


def shape(out: Any, leaves: dict[int, str]) -> list[tuple[Any, ...]]:
    """The graph behind ``out`` with node identities replaced by positions (leaves by role)."""
    if isinstance(out, trace.ExecutionError):
        out = out.exception_node
    order = topological_order(out)
    pos = {id(n): i for i, n in enumerate(order)}
    rows = []
    for n in order:
        op = getattr(n, "op", None)
        role = leaves.get(id(n), "new")
        data = role if role == "self" else n.data if n.kind != "exception" else n.data.splitlines()[0]
        rows.append((
            role, n.kind, type(n).__name__, data,
            n.base_name, n.description, op.name if op else None, getattr(n, "_argnames", None),
            tuple(pos[id(p)] for p in n.parents),
        ))  # fmt: skip
    return rows


def roles(agent: Agent, questions: list[Any]) -> dict[int, str]:
    code = agent.parameters()[1]
    return {
        id(agent.__dict__[_SELF_NODE]): "self", id(agent.instruction): "instruction", id(code): "code",
        **{id(q): f"q{i}" for i, q in enumerate(questions)},
    }  # fmt: skip


def test_ray_outputs_have_the_same_graph_as_threads(local_ray: Any) -> None:
    t_agent, t_q, t_outs = run("thread")
    r_agent, r_q, r_outs = run("ray")
    assert [shape(o, roles(t_agent, t_q)) for o in t_outs] == [shape(o, roles(r_agent, r_q)) for o in r_outs]
    # The leaves are the driver's own objects, not copies: the instance's node included.
    solve_node = r_outs[0].parents[0]
    assert solve_node.parents[0] is r_agent.__dict__[_SELF_NODE] and solve_node.parents[0].data is r_agent
    assert solve_node.parents[1] is r_agent.instruction
    assert solve_node.parents[2] is r_q[0]
    assert solve_node.parents[3] is r_agent.parameters()[1]
    assert solve_node.op is r_agent.__dict__[f"{RESERVED}bundle_Agent.solve"].info
    assert len(last_tasks()) == 4 and all(r.bytes_sent > 0 and r.bytes_received > 0 for r in last_tasks())


def test_backward_reaches_exactly_the_ancestors(local_ray: Any) -> None:
    agent, questions, outs = run("ray")
    outs[1].backward("wrong")
    reached = {id(n) for n in topological_order(outs[1]) if n.feedback}
    assert reached == {id(outs[1])} | {id(n) for n in ancestors(outs[1])}
    assert agent.instruction.feedback and questions[1].feedback
    assert not questions[0].feedback and not questions[3].feedback  # other examples untouched


def prompt_after_step(executor: str) -> str:
    from optimizers import OptoPrime

    agent, questions, outs = run(executor)
    opt = OptoPrime(agent.parameters(), llm=DummyLLM([]))
    opt.zero_feedback()
    for q, out in zip(questions, outs):
        target = out.exception_node if isinstance(out, trace.ExecutionError) else out
        opt.backward(target, f"the answer to {q.data} is wrong")
    with trace.stable_names(agent.parameters()):
        return opt.render_prompt()[0][1]["content"]


def test_trainable_method_output_has_the_same_parents_on_threads_and_ray(local_ray: Any) -> None:
    """The same agent and inputs, once per executor: the method's output has the very same
    parent objects -- the instance's node first, made once in the driver and never again."""
    agent = Agent()
    questions = [trace.node(q, name="question") for q in ("sky?", "sea?")]
    on_threads = trace.map(agent.forward, questions, executor="thread")
    self_node = agent.__dict__[_SELF_NODE]
    on_ray = trace.map(agent.forward, questions, executor="ray")
    assert agent.__dict__[_SELF_NODE] is self_node
    for t, r in zip(on_threads, on_ray):
        t_parents, r_parents = t.parents[0].parents, r.parents[0].parents
        assert r.parents[0] is not t.parents[0]  # a new call node ...
        assert r.parents[0].op is t.parents[0].op  # ... of the instance's own copy of the method ...
        assert len(r_parents) == len(t_parents) == 4  # ... on the same parents
        assert all(a is b for a, b in zip(r_parents, t_parents)), (r_parents, t_parents)
        assert r_parents[0] is self_node
    # A fresh agent shipped before its first call: its node is made in the driver while shipping.
    fresh = Agent()
    (out,) = trace.map(fresh.forward, questions[:1], executor="ray")
    assert out.parents[0].parents[0] is fresh.__dict__[_SELF_NODE]


def test_optoprime_prompt_is_byte_identical_on_threads_and_ray(local_ray: Any) -> None:
    on_threads = prompt_after_step("thread")
    on_ray = prompt_after_step("ray")
    assert "cannot answer 'boom?'" in on_ray and "SEA?" in on_ray
    assert "(Agent) self_" in on_ray and "<test_ray_graph.Agent object>" in on_ray  # no memory address
    assert on_ray == on_threads


def test_exception_comes_back_as_an_exception_node_with_the_user_frame(local_ray: Any) -> None:
    agent, questions, outs = run("ray")
    err = outs[2]
    assert isinstance(err, trace.ExecutionError)
    enode = err.exception_node
    assert isinstance(enode, trace.ExceptionNode)
    assert enode.parents[0] is agent.__dict__[_SELF_NODE]
    assert enode.parents[1] is agent.instruction and enode.parents[2] is questions[2]
    assert "(ValueError) cannot answer 'boom?'" in enode.data
    assert "test_ray_graph.py" in enode.data and 'raise ValueError(f"cannot answer' in enode.data
    assert isinstance(err.exception, ValueError)
    assert [o.data for i, o in enumerate(outs) if i != 2] == [
        "Answer in one word. -> SKY?.", "Answer in one word. -> SEA?.", "Answer in one word. -> GRASS?."
    ]  # the other results are kept


def fails_plainly(x: int) -> int:
    if x == 1:
        raise KeyError(f"no entry {x}")
    return x * 10


def test_plain_exception_is_raised_as_in_process_with_the_remote_traceback(local_ray: Any) -> None:
    with pytest.raises(KeyError) as info:
        trace.map(fails_plainly, [0, 1, 2], executor="ray")
    notes = "\n".join(getattr(info.value, "__notes__", []))
    assert "Remote traceback" in notes and "fails_plainly" in notes
    assert trace.map(fails_plainly, [0, 2], executor="ray") == [0, 20]


def test_parallel_on_ray_runs_callables(local_ray: Any) -> None:
    x = trace.node(3, name="x")
    a, b = trace.parallel(lambda: x + 1, lambda: x * 2, executor="ray")
    assert (a.data, b.data) == (4, 6) and a.parents[0] is x and b.parents[0] is x
    with pytest.raises(TypeError, match="zero-argument callables"):
        trace.parallel(42, executor="ray")  # type: ignore[arg-type]


def test_executor_from_environment(local_ray: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRACE_OPT_EXECUTOR", "ray")
    assert trace.map(fails_plainly, [3]) == [30]
    assert last_tasks()[0].pid > 0
    monkeypatch.setenv("TRACE_OPT_EXECUTOR", "spark")
    with pytest.raises(ValueError, match="TRACE_OPT_EXECUTOR"):
        trace.map(fails_plainly, [3])
