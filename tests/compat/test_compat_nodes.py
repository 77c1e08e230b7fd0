"""Trace parity of nodes (issue 13, items 1, 8, 11, 13, 15 and the module paths Trace users import)."""

from __future__ import annotations

import gc
import weakref

import pytest

import trace_opt as trace


# -- item 1: == and != compare values; hashing stays by identity ---------------------------------
def test_eq_compares_values_and_returns_a_plain_bool() -> None:
    out = trace.node("Juan")
    assert (out == "Juan") is True
    assert (out != "Juan") is False
    assert (out == "Ana") is False and (out != "Ana") is True
    if out == "Juan":  # the ported Trace idiom that silently failed before
        hit = True
    else:
        hit = False
    assert hit


def test_node_against_node_compares_their_values() -> None:
    a, b, c = trace.node(1), trace.node(1), trace.node(2)
    assert a == b and not (a != b)
    assert a != c and not (a == c)
    assert trace.node([1, 2]) == [1, 2]


def test_hashing_is_by_identity_so_equal_nodes_stay_distinct_keys() -> None:
    a, b = trace.node(1), trace.node(1)
    assert b in [a]  # list membership uses ==, as in Trace
    assert b not in {a} and a in {a}
    assert len({a, b}) == 2 and hash(a) != hash(b)
    d = {a: "a", b: "b"}
    assert d[a] == "a" and d[b] == "b"


def test_traced_comparison_stays_available() -> None:
    x = trace.node(3)
    t = x.eq(3)
    assert isinstance(t, trace.MessageNode) and t.data is True and t.parents[0] is x
    assert x.neq(4).data is True and x.ne(3).data is False


# -- item 8: children, dependencies, call, description, name -------------------------------------
def test_children_lists_live_children_in_order() -> None:
    x, y = trace.node("a"), trace.node("b")
    z = x + y
    w = x + "c"
    assert x.children == [z, w] and all(k is c for k, c in zip(x.children, [z, w]))
    assert [c is z for c in y.children] == [True]
    assert z.is_leaf and not x.is_leaf and x.is_root and not z.is_root


def test_children_are_weak_so_dropped_outputs_are_freed() -> None:
    p = trace.node("prompt", trainable=True)
    out = (p + "!") + "?"
    mid = weakref.ref(out.parents[0])
    final = weakref.ref(out)
    assert len(p.children) == 1
    del out
    # Freed by reference counting alone: no cycle between parents and children.
    assert final() is None and mid() is None
    assert p.children == [] and not isinstance(p._children, dict)  # at most one dead reference


def test_graph_is_freed_without_the_cycle_collector() -> None:
    gc.disable()
    try:
        x = trace.node(1)
        outs = [x + i for i in range(100)]
        refs = [weakref.ref(o) for o in outs]
        del outs
        assert all(r() is None for r in refs)
        assert x.children == [] and x._children is None
    finally:
        gc.enable()


def test_parameter_dependencies_are_the_parameters_upstream() -> None:
    x = trace.node(1.0, trainable=True)
    y = trace.node(2.0)
    z = x**y + (x * x * x * x) + 0.5
    assert z.parameter_dependencies == {x}
    assert all(d is x for d in z.parameter_dependencies)
    assert x.parameter_dependencies == {x} and y.parameter_dependencies == set()


def test_expandable_dependencies_find_parameters_hidden_in_traceable_code() -> None:
    x = trace.node(1.0, trainable=True)
    hidden = trace.node(-15.0, trainable=True)

    @trace.bundle()
    def inner(a):
        return a**2

    @trace.bundle(traceable_code=True)
    def outer(a):
        return inner(a) + 1 + hidden

    out = outer(x)
    assert len(out.parameter_dependencies) == 1 and next(iter(out.parameter_dependencies)) is x
    assert len(out.expandable_dependencies) == 1 and next(iter(out.expandable_dependencies)) is out
    assert len(out.hidden_dependencies) == 1 and next(iter(out.hidden_dependencies)) is hidden


def test_call_calls_a_method_of_the_value_with_node_arguments() -> None:
    class Counter:
        def __init__(self) -> None:
            self.base = 10

        def plus(self, n):
            assert isinstance(n, trace.Node)  # Trace passes nodes
            return n + self.base

    c = trace.node(Counter())
    out = c.call("plus", 5)
    assert out.data == 15
    assert any(p is c for p in out.parents[0].parents)


def test_description_has_traces_default_and_prefix() -> None:
    assert trace.node(1).description == "[Node] This is a node in a computational graph."
    assert trace.node(1, description="x").description == "[Node] x"
    assert trace.node(1, trainable=True).description == "[ParameterNode] This is a ParameterNode in a computational graph."
    assert trace.node(1, description="x", trainable=True).description == "[ParameterNode] x"
    assert trace.node(1, description="[tool] y").description == "[tool] y"
    assert trace.node(1, description="x").given_description == "x"
    add = trace.node(1) + 2
    assert add.description.startswith("[add] ")


def test_name_is_name_colon_index_and_py_name_the_identifier_form() -> None:
    x = trace.node(1, name="x")
    base, index = x.name.split(":")
    assert base == "x" and index.isdigit() and x.id == index
    assert x.py_name == f"x_{index}"
    out = trace.bundle()(lambda a: a)(x)
    assert out.name.split(":")[0] == "<lambda>".replace(" ", "_")
    with trace.stable_names([x]):
        assert (x.name, x.py_name) == ("x:0", "x_0")


def test_node_of_a_node_with_trainable_makes_a_parameter_sharing_the_value() -> None:
    a: list[int] = []
    x = trace.node(a)
    y = trace.node(x, trainable=True)
    assert isinstance(y, trace.ParameterNode) and y is not x and y.data is a


def test_deepcopy_is_detached_and_clone_is_traced() -> None:
    import copy

    z = trace.node(1) + 1
    c = z.clone()
    assert c.data == 2 and len(c.parents) == 1 and c.parents[0] is z
    d = copy.deepcopy(z)
    assert d.data == 2 and d.parents == () and not any(k is d for k in z.children)


# -- item 11: calling a node that wraps a callable passes nodes ----------------------------------
def test_calling_a_callable_node_passes_nodes() -> None:
    seen = []

    def fun(v):
        seen.append(v)
        return v + 1

    f = trace.node(fun)
    arg = trace.node(2)
    out = f(arg)
    assert seen[0] is arg
    assert out == 3 and len(out.parents) == 2 and out.parents[0] is f and out.parents[1] is arg
    assert f(5).data == 6 and seen[1] == 5 and not isinstance(seen[1], trace.Node)  # plain stays plain


# -- item 13: attributes of a wrapped object are not reached through the node ---------------------
def test_attribute_of_a_wrapped_object_raises_attribute_error() -> None:
    class Foo:
        def __init__(self) -> None:
            self.x = 1

        def method(self, y):
            return y

    foo = trace.node(Foo())
    with pytest.raises(AttributeError, match="getattr"):
        foo.x  # noqa: B018
    with pytest.raises(AttributeError):
        foo.method(1)
    with pytest.raises(AttributeError):
        foo.missing  # noqa: B018
    assert not hasattr(foo, "x")
    got = foo.getattr("x")
    assert got.data == 1 and any(p is foo for p in got.parents)
    # Values of Python's built-in types keep their traced methods.
    s = trace.node("Hello")
    low = s.lower()
    assert low.data == "hello" and low.parents[0] is s
    with pytest.raises(AttributeError):
        s.no_such_method  # noqa: B018


# -- item 15 and module paths --------------------------------------------------------------------
def test_graph_clear_exists_and_does_nothing() -> None:
    x = trace.node(1)
    y = x + 1
    trace.GRAPH.clear()
    assert y.parents[0] is x and len(trace.GRAPH) == 0
    from trace_opt.nodes import GRAPH

    assert GRAPH is trace.GRAPH


def test_trace_module_paths_resolve() -> None:
    assert trace.nodes.MessageNode is trace.MessageNode
    assert trace.operators.cond(trace.node(True), 1, 2).data == 1
    assert trace.containers.NodeContainer is trace.NodeContainer
    assert trace.broadcast.apply_op is trace.apply_op
    assert trace.propagators.GraphPropagator is trace.GraphPropagator
    assert trace.errors.ExecutionError is trace.ExecutionError


def test_sum_propagator_sums_what_children_send() -> None:
    x = trace.node("a")
    a, b = x + "1", x + "2"
    out = trace.operators.make_list(a, b)
    out.backward("fb", propagator=trace.propagators.SumPropagator())
    assert a.feedback == ["fb"] and b.feedback == ["fb"]
    assert x.feedback == ["fbfb"]
    n = trace.node(1)
    (n * 3 + n).backward(5, propagator=trace.propagators.SumPropagator())
    assert n.feedback == [10]
