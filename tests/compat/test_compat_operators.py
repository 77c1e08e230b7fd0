"""Trace parity of operators (issue 13, items 2 and 9)."""

from __future__ import annotations

import inspect
import math
import operator

import pytest

import trace_opt as trace
from trace_opt import operators as ops

# Every public operator of Trace 0.1.3.8's opto.trace.operators with its parameters, as Trace
# declares them (the reference this module must match).
TRACE_SIGNATURES = {
    "abs": "(x)", "add": "(x, y)", "and_": "(x, y)", "call": "(fun, *args, **kwargs)",
    "call_llm": "(system_prompt, *user_prompts, **kwargs)", "capitalize": "(x)", "ceil": "(x)", "chr_": "(x)",
    "clone": "(x)", "concat": "(x, y)", "cond": "(condition, x, y)", "dict_pop": "(x, key)",
    "dict_popitem": "(x)", "dict_update": "(x, y)", "divide": "(x, y)", "eq": "(x, y)", "floor": "(x)",
    "floor_divide": "(x, y)", "format": "(x, *args, **kwargs)", "ge": "(x, y)", "getitem": "(x, index)",
    "gt": "(x, y)", "identity": "(x)", "in_": "(x, y)", "invert": "(x)", "is_": "(x, y)",
    "is_not": "(x, y)", "join": "(x, *y)", "keys": "(x)", "le": "(x, y)", "len_": "(x)",
    "list_append": "(x, y)", "list_clear": "(x)", "list_extend": "(x, y)", "list_insert": "(x, index, y)",
    "list_pop": "(x, index)", "list_remove": "(x, y)", "list_reverse": "(x)",
    "list_sort": "(x, key=None, reverse=False)", "lower": "(x)", "lshift": "(x, y)", "lt": "(x, y)",
    "make_dict": "(**kwargs)", "make_list": "(*args)", "make_set": "(*args)", "make_tuple": "(*args)",
    "mod": "(x, y)", "multiply": "(x, y)", "ne": "(x, y)", "neg": "(x)", "neq": "(x, y)",
    "node_divmod": "(x, y)", "node_getattr": "(obj, attr)", "not_": "(x)", "not_in": "(x, y)",
    "or_": "(x, y)", "ord_": "(x)", "pop": "(x, index)", "pos": "(x)", "power": "(x, y)",
    "replace": "(x, old, new, count=-1)", "round": "(x, n)", "rshift": "(x, y)", "set_add": "(x, y)",
    "set_clear": "(x)", "set_discard": "(x, y)", "set_intersection_update": "(x, y)", "set_pop": "(x)",
    "set_remove": "(x, y)", "set_symmetric_difference_update": "(x, y)", "set_update": "(x, y)",
    "split": "(x, y, maxsplit=-1)", "strip": "(x, chars=None)", "subtract": "(x, y)", "swapcase": "(x)",
    "title": "(x)", "to_dict": "(x)", "to_list": "(x)", "to_set": "(x)", "to_tuple": "(x)", "trunc": "(x)",
    "upper": "(x)", "values": "(x)", "xor": "(x, y)",
}  # fmt: skip


def _params(fn: object) -> str:
    sig = inspect.signature(fn)  # type: ignore[arg-type]
    return str(sig.replace(parameters=[p.replace(annotation=p.empty) for p in sig.parameters.values()], return_annotation=sig.empty))


@pytest.mark.parametrize("name", sorted(TRACE_SIGNATURES))
def test_every_trace_operator_exists_with_its_signature(name: str) -> None:
    assert hasattr(ops, name), f"trace_opt.operators.{name} is missing"
    assert _params(getattr(ops, name)) == TRACE_SIGNATURES[name]
    assert name in ops.__all__


# (operator, args, expected data) — Trace's results for the same call.
CASES = [
    ("pos", (-2,), -2), ("neg", (2,), -2), ("abs", (-2,), 2), ("invert", (5,), -6), ("round", (2.567, 2), 2.57),
    ("floor", (2.5,), 2), ("ceil", (2.1,), 3), ("trunc", (-2.7,), -2), ("add", (1, 2), 3),
    ("subtract", (5, 2), 3), ("multiply", (3, 4), 12), ("floor_divide", (7, 2), 3), ("divide", (7, 2), 3.5),
    ("mod", (7, 3), 1), ("node_divmod", (7, 3), (2, 1)), ("power", (2, 5), 32), ("lshift", (1, 3), 8),
    ("rshift", (16, 2), 4), ("and_", (6, 3), 2), ("or_", (6, 3), 7), ("xor", (6, 3), 5), ("lt", (1, 2), True),
    ("le", (2, 2), True), ("eq", (2, 2), True), ("neq", (2, 2), False), ("ne", (1, 2), True),
    ("ge", (1, 2), False), ("gt", (3, 2), True), ("cond", (False, "a", "b"), "b"), ("not_", (0,), True),
    ("is_", (None, None), True), ("is_not", (None, 1), True), ("in_", (1, [1, 2]), True),
    ("not_in", (3, [1, 2]), True), ("getitem", ([4, 5], 1), 5), ("len_", ([1, 2, 3],), 3),
    ("ord_", ("a",), 97), ("chr_", (97,), "a"), ("concat", ("a", "b"), "ab"), ("lower", ("AbC",), "abc"),
    ("upper", ("abc",), "ABC"), ("title", ("ab cd",), "Ab Cd"), ("swapcase", ("aB",), "Ab"),
    ("capitalize", ("abc",), "Abc"), ("split", ("a,b,c", ",", 1), ["a", "b,c"]), ("strip", ("xax", "x"), "a"),
    ("replace", ("aaa", "a", "b", 2), "bba"), ("format", ("{}-{}", 1, 2), "1-2"), ("join", ("+", "a", "b"), "a+b"),
    ("to_list", ((1, 2),), [1, 2]), ("make_list", (1, 2), [1, 2]), ("to_dict", ([("a", 1)],), {"a": 1}),
    ("to_set", ([1, 1],), {1}), ("make_set", (1, 1), {1}), ("to_tuple", ([1],), (1,)),
    ("make_tuple", (1, 2), (1, 2)), ("keys", ({"a": 1},), ["a"]), ("values", ({"a": 1},), [1]),
    ("dict_update", ({"a": 1}, {"b": 2}), {"a": 1, "b": 2}), ("dict_pop", ({"a": 1, "b": 2}, "a"), {"b": 2}),
    ("dict_popitem", ({"a": 1, "b": 2},), {"a": 1}), ("list_append", ([1], 2), [1, 2]), ("list_clear", ([1],), []),
    ("list_extend", ([1], (2, 3)), [1, 2, 3]), ("list_insert", ([1, 3], 1, 2), [1, 2, 3]),
    ("list_pop", ([1, 2], 0), [2]), ("list_remove", ([1, 2, 1], 1), [2, 1]), ("list_reverse", ([1, 2],), [2, 1]),
    ("list_sort", ([2, 1, 3],), [1, 2, 3]), ("set_add", ({1}, 2), {1, 2}), ("set_clear", ({1},), set()),
    ("set_discard", ({1, 2}, 2), {1}), ("set_intersection_update", ({1, 2}, {2, 3}), {2}),
    ("set_pop", ({1},), set()), ("set_remove", ({1, 2}, 1), {2}),
    ("set_symmetric_difference_update", ({1, 2}, {2, 3}), {1, 3}), ("set_update", ({1}, {2}), {1, 2}),
    ("clone", ([1],), [1]), ("pop", ([1, 2], 0), 1),
]  # fmt: skip


@pytest.mark.parametrize(("name", "args", "expected"), CASES, ids=[c[0] for c in CASES])
def test_operator_results_match_trace(name: str, args: tuple[object, ...], expected: object) -> None:
    nodes = [trace.node(a) for a in args]
    out = getattr(ops, name)(*nodes)
    assert isinstance(out, trace.MessageNode)
    assert out.data == expected and type(out.data) is type(expected)
    assert all(any(p is n for p in out.parents) for n in nodes)


def test_every_trace_operator_has_a_result_case() -> None:
    covered = {c[0] for c in CASES} | {"call", "call_llm", "identity", "node_getattr", "make_dict"}
    assert covered == set(TRACE_SIGNATURES)


def test_make_dict_takes_keyword_nodes() -> None:
    a = trace.node(1)
    out = ops.make_dict(a=a, b=2)
    assert out.data == {"a": 1, "b": 2} and out.parents[0] is a


def test_container_operators_leave_their_input_unchanged() -> None:
    data = [3, 1, 2]
    x = trace.node(data)
    assert ops.list_sort(x).data == [1, 2, 3] and ops.list_append(x, 4).data == [3, 1, 2, 4]
    assert data == [3, 1, 2]
    d = {"a": 1}
    assert ops.dict_update(trace.node(d), {"b": 2}).data == {"a": 1, "b": 2} and d == {"a": 1}


def test_list_sort_passes_key_and_reverse() -> None:
    assert ops.list_sort(trace.node(["bb", "a", "ccc"]), key=len, reverse=True).data == ["ccc", "bb", "a"]


def test_identity_and_node_getattr() -> None:
    z = trace.node([1])
    same = ops.identity(z)
    assert same.data == [1] and same.data is not z.data and same.parents[0] is z

    class Box:
        v = 7

    b = trace.node(Box())
    got = ops.node_getattr(b, "v")
    assert got.data == 7 and got.parents[0] is b


def test_call_llm_asks_the_active_llm() -> None:
    from trace_opt.llm import DummyLLM, use

    with use(DummyLLM(["Paris"])):
        out = ops.call_llm(trace.node("You answer briefly."), "Capital of France?")
    assert out.data == "Paris" and len(out.parents) == 2


# -- item 2: shifts are traced, both operand orders ----------------------------------------------
@pytest.mark.parametrize("symbol", ["+", "-", "*", "/", "//", "%", "**", "<<", ">>", "&", "|", "^"])
def test_binary_operators_are_traced_both_ways(symbol: str) -> None:
    fn = {"+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv, "//": operator.floordiv,
          "%": operator.mod, "**": operator.pow, "<<": operator.lshift, ">>": operator.rshift, "&": operator.and_,
          "|": operator.or_, "^": operator.xor}[symbol]  # fmt: skip
    x = trace.node(5)
    forward, reflected = fn(x, 2), fn(2, x)
    assert isinstance(forward, trace.MessageNode) and isinstance(reflected, trace.MessageNode)
    assert forward == fn(5, 2) and reflected == fn(2, 5)
    assert forward.parents[0] is x and reflected.parents[1] is x


def test_shift_results_reach_the_parameter_in_backward() -> None:
    p = trace.node(3, trainable=True)
    out = (p << 2) >> 1
    assert out.data == 6
    out.backward("too big")
    assert p.feedback and p.feedback[0].text == "too big"


def test_round_floor_ceil_trunc_divmod_are_traced() -> None:
    x = trace.node(2.6)
    for out, expected in ((round(x), 3), (round(x, 0), 3.0), (math.floor(x), 2), (math.ceil(x), 3), (math.trunc(x), 2)):
        assert isinstance(out, trace.MessageNode) and out == expected and out.parents[0] is x
    assert divmod(trace.node(7), 2).data == (3, 1) and divmod(7, trace.node(2)).data == (3, 1)
