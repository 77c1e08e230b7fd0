from __future__ import annotations

import gc
import shutil
import weakref

import pytest

import trace_opt as trace


def test_to_networkx_exports_nodes_and_edges() -> None:
    x = trace.node(2, trainable=True)
    y = x * 3 + x
    g = trace.to_networkx(y)
    assert g.number_of_nodes() == 4 and g.has_edge(x, y.parents[0]) and g.has_edge(x, y)
    assert g.nodes[x]["trainable"] and g.nodes[y]["kind"] == "message"


def test_render_marks_kinds_and_truncates() -> None:
    p = trace.node("p" * 500, trainable=True)

    @trace.bundle()
    def f(a):
        raise ValueError("no")

    with pytest.raises(trace.ExecutionError) as info:
        f(p)
    enode = info.value.exception_node
    enode.backward("x" * 1000)
    src = trace.render(enode, max_label=40).source
    assert "trainable" in src and "#ffd0d0" in src and "#ffe9a8" in src
    assert "p" * 100 not in src and "x" * 100 not in src
    assert "1 feedback:" in src  # the feedback summary (count, then each distinct text)


def test_render_large_graphs_are_capped() -> None:
    y = trace.node(0)
    for _ in range(50):
        y = y + 1
    src = trace.render(y, max_nodes=10).source
    assert "earlier nodes not shown" in src


@pytest.mark.skipif(shutil.which("dot") is None, reason="graphviz dot binary not installed")
def test_svg_for_jupyter() -> None:
    svg = (trace.node(1) + 1)._repr_svg_()
    assert svg is not None and svg.lstrip().startswith("<?xml") and "<svg" in svg


def test_backward_visualize_returns_a_picture() -> None:
    dot = (trace.node(1, trainable=True) + 1).backward("fb", visualize=True)
    assert "digraph" in dot.source


def test_dropped_outputs_free_their_graph() -> None:
    p = trace.node("kept", trainable=True)
    out = p
    for _ in range(100):
        out = out + "x"
    intermediate = weakref.ref(out.parents[0])
    last = weakref.ref(out)
    del out
    gc.collect()
    assert intermediate() is None and last() is None  # nothing but the user kept them alive
    assert p.data == "kept"


def test_graph_freed_without_gc_when_acyclic() -> None:
    x = trace.node(1)
    y = x + 1
    r = weakref.ref(y)
    del y
    assert r() is None  # reference counting alone frees it: no cycles through nodes


def test_render_draws_a_recorded_run() -> None:
    from trace_opt.store import Store

    @trace.bundle()
    def double(x):
        return 2 * x

    with trace.record(Store()) as run:
        double(double(1))
    src = trace.render(run).source
    assert "double" in src and "digraph" in src
