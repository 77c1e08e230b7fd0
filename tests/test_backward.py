from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import trace_opt as trace
from trace_opt.errors import BackwardError
from trace_opt.graph import ancestors, subgraph, topological_order
from trace_opt.propagation import Feedback, Propagator


@trace.bundle()
def combine(*xs):
    return sum(xs)


def build_dag(edges: list[list[int]]) -> list[trace.Node]:
    """Node i is combine(node j for j in edges[i]) (j < i), or a trainable leaf."""
    nodes: list[trace.Node] = []
    for i, parents in enumerate(edges):
        ps = sorted({p % i for p in parents}) if i else []
        nodes.append(combine(*(nodes[p] for p in ps)) if ps else trace.node(i, trainable=True))
    return nodes


def reference_ancestors(n: trace.Node) -> set[int]:
    seen, stack = set(), [n]
    while stack:
        cur = stack.pop()
        for p in cur.parents:
            if id(p) not in seen:
                seen.add(id(p))
                stack.append(p)
    return seen


dags = st.lists(st.lists(st.integers(0, 1000), max_size=4), min_size=1, max_size=40)


@settings(max_examples=150, deadline=None)
@given(dags, st.data())
def test_backward_reaches_exactly_the_ancestors(edges, data) -> None:
    nodes = build_dag(edges)
    out = nodes[data.draw(st.integers(0, len(nodes) - 1))]
    expected = reference_ancestors(out) | {id(out)}
    out.backward("fb", retain_graph=True)
    reached = {id(n) for n in nodes if n.feedback}
    wrapped_leaves = {id(n) for n in topological_order(out) if n.feedback}
    assert reached | wrapped_leaves == expected
    assert all(len(n.feedback) == 1 for n in topological_order(out))


@settings(max_examples=100, deadline=None)
@given(dags, st.data())
def test_feedback_accumulates_per_backward_until_cleared(edges, data) -> None:
    nodes = build_dag(edges)
    a = nodes[data.draw(st.integers(0, len(nodes) - 1))]
    b = nodes[data.draw(st.integers(0, len(nodes) - 1))]
    a.backward("A", retain_graph=True)
    b.backward("B", retain_graph=True)
    for n in nodes:
        texts = sorted(f.text for f in n.feedback)
        expected = sorted(t for t, o in (("A", a), ("B", b)) if n is o or id(n) in reference_ancestors(o))
        assert texts == expected
    for n in nodes:
        n.zero_feedback()
    assert not any(n.feedback for n in nodes)


@settings(max_examples=100, deadline=None)
@given(dags)
def test_topological_order_puts_parents_first(edges) -> None:
    nodes = build_dag(edges)
    order = topological_order(nodes)
    pos = {id(n): i for i, n in enumerate(order)}
    assert len(pos) == len(order)
    for n in order:
        assert all(pos[id(p)] < pos[id(n)] for p in n.parents)


def test_feedback_names_the_output() -> None:
    p = trace.node("x", trainable=True)
    out = p + "y"
    out.backward("too long")
    (fb,) = p.feedback
    assert isinstance(fb, Feedback) and fb.output is out and fb.text == "too long"


def test_backward_twice_needs_retain_graph() -> None:
    out = trace.node(1) + 1
    out.backward("a")
    with pytest.raises(BackwardError, match="retain_graph=True"):
        out.backward("b")
    out2 = trace.node(1) + 1
    out2.backward("a", retain_graph=True)
    out2.backward("b")
    assert [f.text for f in out2.feedback] == ["a", "b"]


def test_a_leaf_can_be_backwarded() -> None:
    p = trace.node(1, trainable=True)
    p.backward("leaf")
    p.backward("again")
    assert len(p.feedback) == 2


def test_custom_propagator_computes_per_edge_feedback() -> None:
    class Depth(Propagator):
        def init(self, output, feedback):
            return 0

        def aggregate(self, node, items):
            return min(items)

        def propagate(self, node, item):
            return ((p, item + 1) for p in node.parents)

    x = trace.node(1, trainable=True)
    y = x + 1
    z = y * x
    z.backward(propagator=Depth())
    assert z.feedback == [0] and y.feedback == [1]
    assert x.feedback == [1]  # min over the paths z->x (1) and z->y->x (2)


def test_subgraph_is_the_part_between_parameters_and_outputs() -> None:
    p = trace.node("Be brief.", trainable=True, name="prompt")
    q = trace.node("unused", trainable=True)
    question = trace.node("What is 2+2?", name="question")
    noise = trace.node("x") + "y"  # not influenced by p

    @trace.bundle()
    def ask(prompt, question, extra):
        return f"{prompt} {question} {extra}"

    answer = ask(p, question, noise)
    out = answer.upper()
    out.backward("Answer with a number")
    sg = subgraph([p, q])
    assert sg.parameters == [p]
    assert [op.op.name for op in sg.ops] == ["ask", "upper"]
    assert question in sg.inputs and noise in sg.inputs
    assert sg.outputs == [out]
    assert [f.text for f in sg.feedback[out]] == ["Answer with a number"]
    assert ancestors(out) >= {p, question, noise, answer}


def test_backward_on_100k_chain_does_not_recurse() -> None:
    x = trace.node(0, trainable=True)
    y = x
    for _ in range(100_000):
        y = y + 1
    y.backward("deep")
    assert x.feedback[0].text == "deep"
