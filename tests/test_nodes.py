from __future__ import annotations

import copy
import pickle

import pytest

import trace_opt as trace
from trace_opt.errors import BackwardError


def test_node_wraps_value_and_returns_nodes_unchanged() -> None:
    x = trace.node("hello", name="greeting", description="a word")
    assert x.data == "hello"
    assert x.parents == ()
    assert x.name.startswith("greeting:") and x.py_name.startswith("greeting_")
    assert x.description == "[Node] a word" and x.given_description == "a word"
    assert trace.node(x) is x
    assert not x.trainable and type(x) is trace.Node


def test_trainable_node_is_a_parameter() -> None:
    p = trace.node([1, 2], trainable=True)
    assert isinstance(p, trace.ParameterNode)
    assert p.trainable and p.kind == "parameter"
    p._set([3])
    assert p.data == [3] and p.version == 1


def test_nodes_are_hashed_by_identity_and_compared_by_value() -> None:
    a, b = trace.node(1), trace.node(1)
    assert a == b and a is not b
    assert len({a, b}) == 2
    d = {a: "a", b: "b"}
    assert d[a] == "a" and d[b] == "b"
    unhashable = trace.node([1])  # the value is unhashable, the node is not
    assert {unhashable: 1}[unhashable] == 1
    assert a in [b, a] and a in [b]  # list membership uses ==, which compares values


def test_names_are_unique_and_identifier_like() -> None:
    a, b = trace.node(1, name="x:y"), trace.node(1, name="x:y")
    assert a.name != b.name and a.py_name != b.py_name
    assert a.py_name.replace("_", "").isalnum()
    assert a.name.count(":") == 1 and a.name.split(":")[0] == "x_y"


def test_bool_len_contains_are_plain_values() -> None:
    assert bool(trace.node("")) is False
    assert bool(trace.node([0])) is True
    assert len(trace.node("abc")) == 3
    assert "b" in trace.node("abc")
    assert trace.node("b") in trace.node(["a", "b"])


def test_repr_is_short() -> None:
    r = repr(trace.node("x" * 1000))
    assert r.startswith("Node(name=") and len(r) < 150


def test_nodes_refuse_pickle_with_a_hint() -> None:
    with pytest.raises(TypeError, match="Module.save"):
        pickle.dumps(trace.node(1))


def test_deepcopy_gives_a_new_node_with_copied_value() -> None:
    p = trace.node({"a": [1]}, trainable=True, description="d")
    p.backward("fb")
    q = copy.deepcopy(p)
    assert q is not p and q.data == p.data and q.data is not p.data
    assert q.trainable and q.given_description == "d" and q.feedback == []
    assert q.name != p.name


def test_backward_on_a_non_node_is_a_typed_error() -> None:
    with pytest.raises(BackwardError, match="needs a trace_opt Node"):
        trace.propagation.backward("not a node", "fb")  # type: ignore[arg-type]


def test_assign_checks_constraints_and_code() -> None:
    from trace_opt.constraints import Choice
    from trace_opt.errors import ConstraintViolation

    p = trace.node("yes", trainable=True, constraint=Choice(["yes", "no"]))
    p.assign("no")
    assert p.data == "no" and p.version == 1
    with pytest.raises(ConstraintViolation, match="one of"):
        p.assign("maybe")
    assert p.data == "no" and p.version == 1

    @trace.bundle(trainable=True)
    def f(x):
        return x

    with pytest.raises(ConstraintViolation, match="must compile and define a function named 'f'"):
        f.parameter.assign("def g(x): return x")
    f.parameter.assign("def f(x):\n    return -x\n")
    assert f(2).data == -2
