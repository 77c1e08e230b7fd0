"""Trace parity of ``@bundle`` (issue 13, items 3, 4, 10, 12 and 14): what a Trace program
reads from a bundled function and how its calls are recorded."""

from __future__ import annotations

import copy
import functools
import inspect
import json

import pytest

import trace_opt as trace
from trace_opt.errors import StateDictError


def passthrough(fn):
    return fn


def wrapping(fn):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        return fn(*args, **kwargs)

    return wrapper


# -- item 3: info is Trace's dict, source keeps the decorators below @bundle ------------------


@passthrough
@trace.bundle(  # a comment after the decorator
)
@passthrough
def decorated(x):  # keep me
    """Add one."""
    return x + 1  # and me


DECORATED_LINE = inspect.getsourcelines(decorated._fn)[1]


def test_info_reads_as_traces_dict() -> None:
    info = decorated.info
    assert info["fun_name"] == "decorated"
    assert info["doc"] == "Add one."
    assert info["file"] == __file__
    assert info["signature"] == inspect.signature(decorated._fn)
    assert info["fun"](1) == 2
    assert info["source"] is info.source  # the attribute form stays
    assert set(info.keys()) >= {"source", "line_number", "fun_name", "doc", "signature", "file"}
    assert "source" in info and info.get("output", "missing") == "missing"
    with pytest.raises(KeyError, match="output"):
        info["output"]


def test_source_keeps_the_decorators_below_bundle_and_its_line() -> None:
    source = decorated.info["source"]
    assert source == (
        "@passthrough\n"
        "def decorated(x):  # keep me\n"
        '    """Add one."""\n'
        "    return x + 1  # and me"
    )
    # The first kept line: the decorator under the two lines of the @trace.bundle( call.
    assert decorated.info["line_number"] == DECORATED_LINE + 3


def test_doc_is_the_docstring_even_with_a_description() -> None:
    @trace.bundle("[pick] Choose one.")
    def pick(a):
        """The docstring."""
        return a

    assert pick.info["doc"] == "The docstring."
    assert pick.info.doc == "Choose one."  # what optimizer prompts show


def test_a_bracketed_tag_in_the_description_names_the_operation() -> None:
    @trace.bundle("[fancy.cond] Select x if condition is true, else y.", trainable=True)
    def fancy_cond(condition, x, y):
        return x if condition else y

    out = fancy_cond(True, 1, 2)
    assert out.name.split(":")[0] == "fancy.cond" and fancy_cond.info.name == "fancy.cond"
    fancy_cond.parameter._set(fancy_cond.parameter.data.replace("x if condition", "-x if condition"))
    assert fancy_cond(True, 1, 2).data == -1  # rewritten code keeps the def's own name


def test_fun_name_is_the_qualified_name() -> None:
    class Agent:
        @trace.bundle()
        def act(self, x):
            return x

    assert Agent.act.info["fun_name"].endswith("Agent.act")
    assert Agent.act.info.name == "act"


def test_inline_bundle_keeps_every_decorator() -> None:
    @passthrough
    def double(x):
        return 2 * x

    fun = trace.bundle()(double)
    assert fun.info["source"].startswith("@passthrough\ndef double(x):")


alias = trace.bundle


@alias()
@passthrough
def under_alias(x):
    return x + 1


def test_a_decorator_bound_to_bundle_under_another_name_is_cut() -> None:
    assert under_alias.info["source"] == "@passthrough\ndef under_alias(x):\n    return x + 1"


def test_trainable_code_with_kept_decorators_runs_after_a_rewrite() -> None:
    @trace.bundle(trainable=True, sandbox=False)
    @wrapping
    def f(x):
        return x

    assert f.info["source"].startswith("@wrapping\ndef f(x):")
    f.parameter._set(f.parameter.data.replace("return x", "return -x"))
    assert f(3).data == -3


# -- item 4: a bundled function is a Module ---------------------------------------------------


def test_a_bundled_function_is_a_module_with_parameters() -> None:
    @trace.bundle(trainable=True)
    def fun(x):
        return len(x)

    assert isinstance(fun, trace.Module)
    assert fun.parameters() == [fun.parameter] and fun.parameters()[0] is fun.parameter
    assert list(fun.parameters_dict()) == ["parameter"]
    assert fun.parameters_dict()["parameter"] is fun.parameter
    assert fun.state_dict() == {"__code": fun.parameter.data}

    @trace.bundle()
    def plain(x):
        return x

    assert plain.parameters() == [] and plain.parameters_dict() == {}


def test_save_and_load_write_json_whatever_the_extension(tmp_path) -> None:
    @trace.bundle(trainable=True)
    def fun(x):
        return len(x), x.count("\n")

    path = tmp_path / "fun.pkl"
    original = fun.parameter.data
    changed = original.replace("len(x)", '"Hello"')
    fun.parameter._set(changed)
    fun.save(path)
    doc = json.loads(path.read_text(encoding="utf-8"))  # JSON, not a pickle
    assert doc["parameters"] == {"__code": changed}

    fun.parameter._set(original)
    fun.load(path)
    assert fun.parameter.data == changed
    assert fun("a\nb\n").data == ("Hello", 2)


def test_load_refuses_code_that_does_not_compile(tmp_path) -> None:
    @trace.bundle(trainable=True)
    def fun(x):
        return x

    path = tmp_path / "fun.json"
    fun.save(path)
    doc = json.loads(path.read_text())
    doc["parameters"]["__code"] = "def fun(x) return"
    path.write_text(json.dumps(doc))
    before = fun.parameter.data
    with pytest.raises(StateDictError, match="does not compile"):
        fun.load(path)
    assert fun.parameter.data == before


# -- item 10: nodes inside list / tuple / dict arguments --------------------------------------


def test_nodes_in_a_list_argument_of_a_method_are_unwrapped_and_traced() -> None:
    x, y = trace.node("a"), trace.node("b")
    out = trace.node("+").join([x, y])
    assert out.data == "a+b"
    assert any(p is x for p in out.parents) and any(p is y for p in out.parents)
    out.backward("use a comma")
    assert x.feedback and y.feedback


def test_nodes_in_tuple_and_dict_arguments_of_a_bundled_call() -> None:
    seen = {}

    @trace.bundle()
    def combine(pair, table, *, extra=None):
        seen.update(pair=pair, table=table, extra=extra)
        return f"{pair[0]}{pair[1]}{table['k']}{extra[0]}"

    a, b, c, d = (trace.node(v) for v in "abcd")
    out = combine((a, b), {"k": c}, extra=[d, "lit"])
    assert out.data == "abcd"
    assert seen == {"pair": ("a", "b"), "table": {"k": "c"}, "extra": ["d", "lit"]}
    assert [p for p in out.parents] == [a, b, c, d]
    assert [id(p) for p in out.parents] == [id(a), id(b), id(c), id(d)]
    assert list(out.inputs) == ["pair_0", "pair_1", "table_0", "extra_0"]


def test_containers_without_nodes_pass_through_untouched() -> None:
    data = [1, 2, 3]
    got = []

    @trace.bundle()
    def keep(items):
        got.append(items)
        return len(items)

    out = keep(data)
    assert got[0] is data and out.data == 3 and len(out.parents) == 1


def test_nested_nodes_in_containers_are_found() -> None:
    x = trace.node(2)

    @trace.bundle()
    def total(items):
        return sum(v for group in items for v in group["values"])

    out = total([{"values": (1, x)}])
    assert out.data == 3 and any(p is x for p in out.parents)


def test_a_node_after_many_plain_items_or_in_a_dict_key_is_found() -> None:
    x = trace.node(7)

    @trace.bundle()
    def last(items, table):
        return items[-1][0] + sum(table)

    out = last([*range(1000), [x]], {x: "k", 1: "v"})
    assert out.data == 7 + 7 + 1
    assert len(out.parents) == 2 and all(p is x for p in out.parents)  # once per argument


# -- item 12: overwrite_python_recursion ------------------------------------------------------


def test_overwrite_python_recursion_runs_inner_calls_on_plain_values() -> None:
    inner_results = []

    @trace.bundle(overwrite_python_recursion=True)
    def recursion(n):
        if n == 0:
            return 0
        val = recursion(n - 1)
        inner_results.append(val)
        return n + val

    out = recursion(trace.node(10))
    assert out.data == 55
    assert len(out.parents) == 1
    assert inner_results and not any(isinstance(v, trace.Node) for v in inner_results)


def test_without_the_flag_recursive_calls_are_traced() -> None:
    @trace.bundle()
    def count(n):
        return 0 if n == 0 else count(n - 1).data + 1

    assert count(3).data == 3


def test_trainable_functions_recurse_on_plain_values_as_in_trace() -> None:
    inner = []

    @trace.bundle(trainable=True)
    def fact(n):
        if n <= 1:
            return 1
        below = fact(n - 1)
        inner.append(below)
        return n * below

    out = fact(5)
    assert out.data == 120 and len(out.parents) == 2  # n and the code
    assert inner == [1, 2, 6, 24] and not any(isinstance(v, trace.Node) for v in inner)


def test_the_flag_works_however_the_funmodule_is_built() -> None:
    from trace_opt.bundle import FunModule

    inner = []

    def countdown(n):
        if n:
            inner.append(countdown_fun(n - 1))
        return n

    countdown_fun = FunModule(countdown, None, False, True, False, None, False, None, True)
    assert countdown_fun(2).data == 2 and inner == [0, 1]


def test_recursion_guard_is_per_call_not_global() -> None:
    @trace.bundle(overwrite_python_recursion=True)
    def ident(x):
        return x

    assert isinstance(ident(1), trace.Node) and isinstance(ident(2), trace.Node)


# -- item 14: the instance is an input of a trainable method ---------------------------------


@trace.model
class Counter:
    def __init__(self):
        self.step = 1

    @trace.bundle(trainable=True)
    def forward(self, x):
        return x + self.step


def test_trainable_method_output_has_the_self_node_among_its_parents() -> None:
    m = Counter()
    y1, y2 = m.forward(1), m.forward(2)
    self_nodes = [p for p in y1.parents if p.data is m]
    assert len(self_nodes) == 1
    assert any(p is self_nodes[0] for p in y2.parents)  # one node per instance
    assert list(y1.inputs) == ["self", "x", "__code"]
    assert len(y1.parents) == 3


def test_each_instance_and_each_copy_has_its_own_self_node() -> None:
    m1, m2 = Counter(), Counter()
    s1 = next(p for p in m1.forward(1).parents if p.data is m1)
    s2 = next(p for p in m2.forward(1).parents if p.data is m2)
    assert s1 is not s2
    m3 = copy.deepcopy(m1)
    s3 = next(p for p in m3.forward(1).parents if p.data is m3)
    assert s3 is not s1
    assert m1.parameters()[0] is not m3.parameters()[0]


def test_feedback_reaches_the_code_through_a_trainable_method() -> None:
    m = Counter()
    out = m.forward(trace.node(1))
    out.backward("too small")
    assert m.forward.parameter.feedback
