from __future__ import annotations

import pytest

import trace_opt as trace


def test_arithmetic_and_reflected_operators() -> None:
    x = trace.node(6)
    cases = {
        x + 2: 8, 2 + x: 8, x - 1: 5, 10 - x: 4, x * 2: 12, 2 * x: 12, x / 4: 1.5, 12 / x: 2.0,
        x // 4: 1, x % 4: 2, x ** 2: 36, 2 ** x: 64, -x: -6, +x: 6, abs(-x): 6, x & 3: 2, x | 1: 7, x ^ 2: 4,
    }  # fmt: skip
    for out, expected in cases.items():
        assert out.data == expected, out
        assert x in out.parents or any(x in p.parents for p in out.parents)


def test_comparisons_are_traced() -> None:
    x = trace.node(3)
    for out, expected in ((x < 4, True), (x <= 2, False), (x > 1, True), (x >= 3, True)):
        assert isinstance(out, trace.MessageNode) and out.data is expected and out.parents[0] is x
    assert x.eq(3).data is True and x.ne(3).data is False
    assert (x == 3) is True and (x != 3) is False  # plain value comparison, as in Trace


def test_string_concatenation_and_format() -> None:
    name = trace.node("Juan")
    out = "Hola, " + name + "!"
    assert out.data == "Hola, Juan!"
    template = trace.node("Hi {who}, {}")
    formatted = template.format("there", who=name)
    assert formatted.data == "Hi Juan, there"
    assert template in formatted.parents and name in formatted.parents
    assert formatted.op.name == "format"


def test_method_calls_on_wrapped_values() -> None:
    s = trace.node("Hello World")
    low = s.lower()
    assert low.data == "hello world" and low.parents == (s,)
    assert low.op.name == "lower"
    parts = s.split(" ")
    assert parts.data == ["Hello", "World"]
    d = trace.node({"a": 1, "b": 2})
    items = d.items()
    pairs = [(k.data, v.data) for k, v in items]
    assert pairs == [("a", 1), ("b", 2)]


def test_attribute_access_is_traced() -> None:
    class Obj:
        size = 4

    o = trace.node(Obj())
    out = o.getattr("size")
    assert isinstance(out, trace.MessageNode) and out.data == 4 and out.parents[0] is o
    with pytest.raises(AttributeError, match="no attribute 'size'"):
        o.size  # noqa: B018 - as in Trace, a wrapped object's attributes need getattr()
    assert not hasattr(o, "missing")
    s = trace.node("Ab")
    assert s.lower().data == "ab" and s.lower().parents[0] is s  # built-in values keep their methods


def test_getitem_len_iteration() -> None:
    xs = trace.node([10, 20, 30])
    assert xs[1].data == 20 and xs[1].parents[0] is xs
    assert xs[1:].data == [20, 30]
    assert xs.len().data == 3 and len(xs) == 3
    items = list(xs)
    assert [i.data for i in items] == [10, 20, 30]
    assert all(i.parents[0] is xs for i in items)
    keys = [k.data for k in trace.node({"x": 1, "y": 2})]
    assert keys == ["x", "y"]
    assert trace.node("ab").contains("a").data is True


def test_calling_a_node_that_holds_a_callable() -> None:
    f = trace.node(lambda a, b: a * b)
    out = f(3, trace.node(4))
    assert out.data == 12 and out.parents[0] is f


def test_operator_failures_are_execution_errors() -> None:
    x = trace.node(1)
    with pytest.raises(trace.ExecutionError, match="ZeroDivisionError"):
        x / 0
    with pytest.raises(trace.ExecutionError, match="IndexError"):
        trace.node([1])[5]
