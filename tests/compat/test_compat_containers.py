"""Trace parity of containers: ``apply_op`` / ``NodeContainer`` (issue 13, item 6) and
iterating nodes of lists and dicts."""

from __future__ import annotations

import pytest

import trace_opt as trace
from trace_opt import operators as ops
from trace_opt.errors import BroadcastError


class Inner(trace.NodeContainer):
    def __init__(self, y: str) -> None:
        self.y = trace.node(y)


class Outer(trace.NodeContainer):
    def __init__(self, x: str, v: int) -> None:
        self.x = trace.node(x)
        self.pair = [trace.node(x + "1"), trace.node(x + "2")]
        self.table = {"v": v, "xs": (trace.node(x + "a"), trace.node(x + "b"))}
        self.inner = Inner(x)


def test_apply_op_broadcasts_over_container_attributes_in_place() -> None:
    foo, bar, out = Outer("foo", 1), Outer("bar", 2), Outer("ignored", 3)
    result = trace.apply_op(ops.add, out, foo, bar)
    assert result is out
    assert out.x.data == "foobar" and out.x.parents[0] is foo.x and out.x.parents[1] is bar.x
    assert [n.data for n in out.pair] == ["foo1bar1", "foo2bar2"]
    assert out.table["v"] == 3  # plain values keep the output's value
    assert isinstance(out.table["xs"], tuple) and [n.data for n in out.table["xs"]] == ["fooabara", "foobbarb"]
    assert out.inner.y.data == "foobar"


def test_apply_op_with_a_function_building_lists_and_dicts() -> None:
    foo, bar, out = Outer("foo", 1), Outer("bar", 2), Outer("o", 3)
    trace.apply_op(lambda *a: list(a), out, foo, bar)
    assert out.x[0] is foo.x and out.x[1] is bar.x
    trace.apply_op(dict, out, a=foo, b=bar)
    assert out.pair[0]["a"] is foo.pair[0] and out.pair[1]["b"] is bar.pair[1]


def test_a_node_input_is_broadcast_to_every_item() -> None:
    out = trace.apply_op(ops.add, [None, None], [trace.node(1), trace.node(2)], trace.node(10))
    assert [n.data for n in out] == [11, 12]
    d = {"a": None, "b": None}
    got = trace.apply_op(ops.multiply, d, {"a": trace.node(2), "b": trace.node(3)}, y=trace.node(5))
    assert got is d and d["a"].data == 10 and d["b"].data == 15


def test_all_node_inputs_just_apply_the_op() -> None:
    out = trace.apply_op(ops.add, None, trace.node(1), trace.node(2))
    assert out.data == 3


def test_sets_are_left_as_the_output_has_them() -> None:
    marker = {1, 2}
    assert trace.apply_op(ops.add, marker, {3}, trace.node(1)) is marker


def test_mismatched_containers_are_typed_errors() -> None:
    with pytest.raises(BroadcastError, match="2 items"):
        trace.apply_op(ops.add, [None], [trace.node(1), trace.node(2)], trace.node(1))
    with pytest.raises(BroadcastError, match="tuple"):
        trace.apply_op(ops.add, [None], (trace.node(1),), trace.node(1))
    assert issubclass(BroadcastError, TypeError)


# -- iterating nodes of containers, as in Trace --------------------------------------------------
def test_iterating_a_list_node_gives_items_with_the_list_as_parent() -> None:
    x = trace.node([1, 2, 3])
    items = list(x)
    assert [i.data for i in items] == [1, 2, 3]
    assert all(i.parents[0] is x for i in items)
    x = ops.list_extend(x, trace.node((4, 5, 6)))
    assert len(x) == 6 and all(i + 1 in x for i in range(6))


def test_dict_items_keys_values_trace_back_to_the_dict() -> None:
    x = trace.node({"a": 1, "b": 2})
    pairs = list(x.items())
    assert [(k.data, v.data) for k, v in pairs] == [("a", 1), ("b", 2)]
    for k, v in pairs:
        assert any(p is x for p in k.parents[0].parents) and any(p is x for p in v.parents)
    for k in x.keys():
        assert any(p is x for p in k.parents[0].parents)
    for v in x.values():
        assert any(p is x for p in v.parents[0].parents)
    copy: dict[object, object] = {}
    copy.update(x)  # dict.update reads keys() and [] of the node
    assert sorted(k.data for k in copy) == ["a", "b"]


def test_join_records_every_item() -> None:
    a, b = trace.node("a"), trace.node("b")
    out = trace.node("+").join([a, b])
    assert out.data == "a+b" and any(p is a for p in out.parents) and any(p is b for p in out.parents)
