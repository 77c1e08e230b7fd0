"""Traced operators: every public operator of Trace's ``opto.trace.operators``, under the same
names and signatures, plus the short names trace_opt used before (``sub``, ``mul``, ...).

Each operator is a bundled function (so failures become ExceptionNodes like any other call),
marked ``operator=True`` so optimizer prompts show it as one short line such as
``add_7 = add(x=prompt_3, y=str_5)``. Python's operators on nodes (``+``, ``<<``, ``[]``,
``round(n)``, ...) are attached to ``Node`` by ``trace_opt.node_methods``.

As in Trace, the ``list_*``, ``set_*`` and ``dict_*`` operators return an updated *copy* and
leave their input unchanged, while ``pop`` pops from the value itself.

Not traced, because Python demands plain values: ``bool(node)``, ``len(node)``, ``x in node``,
``==`` and ``!=`` (value comparison, as in Trace). Use ``node.len()``, ``node.eq(y)``,
``node.contains(x)`` for traced forms.
"""

from __future__ import annotations

import builtins
import copy
import importlib
import math
import operator as _op
from collections.abc import Callable
from typing import Any

from .bundle import FunModule
from .nodes import Node

# fmt: off
_TRACE_NAMES = [
    "abs", "add", "and_", "call", "call_llm", "capitalize", "ceil", "chr_", "clone", "concat", "cond",
    "dict_pop", "dict_popitem", "dict_update", "divide", "eq", "floor", "floor_divide", "format", "ge",
    "getitem", "gt", "identity", "in_", "invert", "is_", "is_not", "join", "keys", "le", "len_", "list_append",
    "list_clear", "list_extend", "list_insert", "list_pop", "list_remove", "list_reverse", "list_sort",
    "lower", "lshift", "lt", "make_dict", "make_list", "make_set", "make_tuple", "mod", "multiply", "ne",
    "neg", "neq", "node_divmod", "node_getattr", "not_", "not_in", "or_", "ord_", "pop", "pos", "power",
    "replace", "round", "rshift", "set_add", "set_clear", "set_discard", "set_intersection_update",
    "set_pop", "set_remove", "set_symmetric_difference_update", "set_update", "split", "strip", "subtract",
    "swapcase", "title", "to_dict", "to_list", "to_set", "to_tuple", "trunc", "upper", "values", "xor",
]
__all__ = sorted({
    *_TRACE_NAMES, "abs_", "call_method", "contains", "floordiv", "getattr_", "mul", "pow", "sub", "truediv",
})
# fmt: on


def _operator(fn: Callable[..., Any], doc: str, name: str | None = None) -> FunModule:
    return FunModule(fn, description=doc, name=name or _OP_NAMES.get(fn.__name__, fn.__name__), operator=True)


_OP_NAMES = {"len_": "len"}  # the name trace_opt's prompts have always shown


def _mutated(x: Any, method: str, *args: Any) -> Any:
    """``x.method(*args)`` applied to a shallow copy of ``x``; the copy is the result."""
    x = copy.copy(x)
    builtins.getattr(x, method)(*args)
    return x


# -- unary --------------------------------------------------------------------------------------
def clone(x: Any) -> Any: return copy.deepcopy(x)  # noqa: E704
def pos(x: Any) -> Any: return +x  # noqa: E704
def neg(x: Any) -> Any: return -x  # noqa: E704
def abs(x: Any) -> Any: return builtins.abs(x)  # noqa: A001,E704
def invert(x: Any) -> Any: return ~x  # noqa: E704
def round(x: Any, n: Any) -> Any: return builtins.round(x, n)  # noqa: A001,E704
def floor(x: Any) -> Any: return math.floor(x)  # noqa: E704
def ceil(x: Any) -> Any: return math.ceil(x)  # noqa: E704
def trunc(x: Any) -> Any: return math.trunc(x)  # noqa: E704
def not_(x: Any) -> Any: return not x  # noqa: E704
def len_(x: Any) -> Any: return len(x)  # noqa: E704
def ord_(x: Any) -> Any: return ord(x)  # noqa: E704
def chr_(x: Any) -> Any: return chr(x)  # noqa: E704
def to_list(x: Any) -> Any: return list(x)  # noqa: E704
def to_dict(x: Any) -> Any: return dict(x)  # noqa: E704
def to_set(x: Any) -> Any: return set(x)  # noqa: E704
def to_tuple(x: Any) -> Any: return tuple(x)  # noqa: E704
def make_list(*args: Any) -> Any: return list(args)  # noqa: E704
def make_dict(**kwargs: Any) -> Any: return kwargs  # noqa: E704
def make_set(*args: Any) -> Any: return set(args)  # noqa: E704
def make_tuple(*args: Any) -> Any: return tuple(args)  # noqa: E704


_UNARY_DOCS: dict[Callable[..., Any], str] = {
    clone: "A deep copy of x.", pos: "+x", neg: "-x", abs: "abs(x)", invert: "~x", round: "round(x, n)",
    floor: "math.floor(x)", ceil: "math.ceil(x)", trunc: "math.trunc(x)", not_: "not x", len_: "len(x)",
    ord_: "ord(x): the unicode number of a character.", chr_: "chr(x): the character of a unicode number.",
    to_list: "list(x)", to_dict: "dict(x)", to_set: "set(x)", to_tuple: "tuple(x)",
    make_list: "A list of the arguments.", make_dict: "A dict of the keyword arguments.",
    make_set: "A set of the arguments.", make_tuple: "A tuple of the arguments.",
}  # fmt: skip
for _fn, _doc in _UNARY_DOCS.items():
    globals()[_fn.__name__] = _operator(_fn, _doc)


def identity(x: Any) -> Any:
    """A traced copy of ``x`` (Trace: ``identity(x)`` is ``x.clone()``)."""
    return clone(x)  # type: ignore[operator]


# -- binary -------------------------------------------------------------------------------------
_BINARY: dict[str, tuple[Callable[[Any, Any], Any], str]] = {
    "add": (_op.add, "x + y: adds numbers or concatenates strings and lists."),
    "sub": (_op.sub, "x - y"), "mul": (_op.mul, "x * y"), "truediv": (_op.truediv, "x / y"),
    "floordiv": (_op.floordiv, "x // y"), "mod": (_op.mod, "x % y (also %-formatting of strings)"),
    "pow": (_op.pow, "x ** y"), "lshift": (_op.lshift, "x << y"), "rshift": (_op.rshift, "x >> y"),
    "and_": (_op.and_, "x & y"), "or_": (_op.or_, "x | y"), "xor": (_op.xor, "x ^ y"),
    "lt": (_op.lt, "x < y"), "le": (_op.le, "x <= y"), "gt": (_op.gt, "x > y"), "ge": (_op.ge, "x >= y"),
    "eq": (_op.eq, "x == y (value equality)"), "ne": (_op.ne, "x != y (value inequality)"),
    "divmod": (divmod, "divmod(x, y)"), "concat": (_op.add, "x + y: concatenation."),
    "is_": (_op.is_, "x is y"), "is_not": (_op.is_not, "x is not y"),
    "in_": (lambda x, y: x in y, "x in y"), "not_in": (lambda x, y: x not in y, "x not in y"),
}  # fmt: skip


def _binary(name: str) -> FunModule:
    fn, doc = _BINARY[name]

    def run(x: Any, y: Any) -> Any:
        return fn(x, y)

    return _operator(run, doc, name)


add, sub, mul, truediv, floordiv, mod, pow, lshift, rshift = map(  # noqa: A001 - mirrors operator names
    _binary, ["add", "sub", "mul", "truediv", "floordiv", "mod", "pow", "lshift", "rshift"]
)
and_, or_, xor, lt, le, gt, ge, eq, ne = map(_binary, ["and_", "or_", "xor", "lt", "le", "gt", "ge", "eq", "ne"])
node_divmod, concat, is_, is_not, in_, not_in = map(_binary, ["divmod", "concat", "is_", "is_not", "in_", "not_in"])
# Trace's names for the same operations.
subtract, multiply, divide, floor_divide, power, neq, abs_ = sub, mul, truediv, floordiv, pow, ne, abs  # type: ignore[has-type]


def _cond(condition: Any, x: Any, y: Any) -> Any:
    return x if condition else y


cond = FunModule(_cond, description="x if condition else y: selects x when condition is true.", name="cond", operator=True)


def _getitem(x: Any, index: Any) -> Any:
    return x[index]


def _contains(x: Any, item: Any) -> Any:
    return item in x


def _getattr(x: Any, name: str) -> Any:
    return builtins.getattr(x, name)


def _node_getattr(obj: Any, attr: str) -> Any:
    return builtins.getattr(obj, attr)


def _pop(x: Any, index: Any) -> Any:
    return x.pop(index)


getitem = _operator(_getitem, "x[index]", "getitem")
contains = _operator(_contains, "item in x", "contains")
getattr_ = _operator(_getattr, "x.name: reads an attribute", "getattr")
node_getattr = _operator(_node_getattr, "obj.attr: reads an attribute", "getattr")
pop = _operator(_pop, "x.pop(index): removes and returns an item of x itself", "pop")


# -- strings ------------------------------------------------------------------------------------
def lower(x: Any) -> Any: return x.lower()  # noqa: E704
def upper(x: Any) -> Any: return x.upper()  # noqa: E704
def title(x: Any) -> Any: return x.title()  # noqa: E704
def swapcase(x: Any) -> Any: return x.swapcase()  # noqa: E704
def capitalize(x: Any) -> Any: return x.capitalize()  # noqa: E704
def split(x: Any, y: Any, maxsplit: Any = -1) -> Any: return x.split(y, maxsplit)  # noqa: E704
def strip(x: Any, chars: Any = None) -> Any: return x.strip(chars)  # noqa: E704
def replace(x: Any, old: Any, new: Any, count: Any = -1) -> Any: return x.replace(old, new, count)  # noqa: E704
def format(x: Any, *args: Any, **kwargs: Any) -> Any: return x.format(*args, **kwargs)  # noqa: A001,E704
def join(x: Any, *y: Any) -> Any: return x.join(y)  # noqa: E704


for _fn in (lower, upper, title, swapcase, capitalize, split, strip, replace, format, join):
    globals()[_fn.__name__] = _operator(_fn, f"str.{_fn.__name__}")


# -- dicts and containers (results are copies, as in Trace) --------------------------------------
def _listed(view: str) -> Callable[[Any], Any]:
    """``list(x.keys())`` or ``list(x.values())``, for dicts only (as in Trace)."""

    def run(x: Any) -> Any:
        if not isinstance(x, dict):
            raise AttributeError(f"{type(x).__name__!r} object has no attribute {view!r}")
        return list(builtins.getattr(x, view)())

    run.__name__ = run.__qualname__ = f"_{view}"
    return run


keys = _operator(_listed("keys"), "The keys of the dict x, as a list.", "keys")
values = _operator(_listed("values"), "The values of the dict x, as a list.", "values")

# Trace's list_*, set_* and dict_* operators: ``x.<method>(...)`` on a shallow copy of x, the
# method being the name after the prefix (list_append runs append). Each entry: the parameters
# after x, named as in Trace (prompts show them), and what the operator returns.
_COPY_OPS: dict[str, tuple[tuple[str, ...], str]] = {
    "dict_update": (("y",), "A copy of the dict x updated with y."),
    "dict_pop": (("key",), "A copy of the dict x without key."),
    "dict_popitem": ((), "A copy of the dict x without its last item."),
    "list_append": (("y",), "A copy of x with y appended."),
    "list_clear": ((), "An empty copy of x."),
    "list_extend": (("y",), "A copy of x extended with y."),
    "list_insert": (("index", "y"), "A copy of x with y inserted at index."),
    "list_pop": (("index",), "A copy of x without the item at index."),
    "list_remove": (("y",), "A copy of x without the first y."),
    "list_reverse": ((), "A reversed copy of x."),
    "set_add": (("y",), "A copy of the set x with y added."),
    "set_clear": ((), "An empty copy of the set x."),
    "set_discard": (("y",), "A copy of the set x without y."),
    "set_intersection_update": (("y",), "A copy of the set x intersected with y."),
    "set_pop": ((), "A copy of the set x without one arbitrary element."),
    "set_remove": (("y",), "A copy of the set x without y (y must be present)."),
    "set_symmetric_difference_update": (("y",), "A copy of the set x updated with its symmetric difference with y."),
    "set_update": (("y",), "A copy of the set x updated with y."),
}

# One function per parameter list, so each operator keeps real parameter names (bundle reads
# them from the code object; ``*args`` would show as ``args_0``).
_WITH_PARAMETERS: dict[tuple[str, ...], Callable[[str], Callable[..., Any]]] = {
    (): lambda method: lambda x: _mutated(x, method),
    ("y",): lambda method: lambda x, y: _mutated(x, method, y),
    ("key",): lambda method: lambda x, key: _mutated(x, method, key),
    ("index",): lambda method: lambda x, index: _mutated(x, method, index),
    ("index", "y"): lambda method: lambda x, index, y: _mutated(x, method, index, y),
}


def _copy_operator(name: str, params: tuple[str, ...], doc: str) -> FunModule:
    fn = _WITH_PARAMETERS[params](name.split("_", 1)[1])
    fn.__name__ = fn.__qualname__ = name  # how a Ray worker's operator is found again
    return _operator(fn, doc, name)


for _name, (_params, _doc) in _COPY_OPS.items():
    globals()[_name] = _copy_operator(_name, _params, _doc)


def _list_sort(x: Any, key: Any = None, reverse: Any = False) -> Any:
    x = copy.copy(x)
    x.sort(key=key, reverse=reverse)
    return x


list_sort = _operator(_list_sort, "A sorted copy of x.", "list_sort")


# -- calls --------------------------------------------------------------------------------------
class _Given(Node[Any]):
    """A plain argument of ``call``, wrapped so that the call records it as a parent but the
    function still receives the plain value (only arguments that were nodes arrive as nodes)."""

    __slots__ = ()


def _run_call(fun: Node[Any], *args: Any, **kwargs: Any) -> Any:
    fn = fun._data
    if not callable(fn):
        raise TypeError(f"call needs a callable, got {type(fn).__name__}: {fn!r:.60}")
    args = tuple(a._data if type(a) is _Given else a for a in args)
    kwargs = {k: v._data if type(v) is _Given else v for k, v in kwargs.items()}
    return fn(*args, **kwargs)


_call_op = FunModule(_run_call, description="fun(*args, **kwargs): calls the function fun.", name="call",
                     operator=True, traceable_code=True)  # fmt: skip


def call(fun: Any, *args: Any, **kwargs: Any) -> Any:
    """Traced ``fun(*args, **kwargs)``. As in Trace, arguments that are nodes reach ``fun`` as
    nodes (so a traced function inside builds its own graph); plain arguments stay plain.

    >>> import trace_opt as trace
    >>> out = trace.operators.call(trace.node(lambda n: n * 2), trace.node(4))
    >>> out.data, len(out.parents)
    (8, 2)
    """
    args = tuple(a if isinstance(a, Node) else _Given(a) for a in args)
    kwargs = {k: v if isinstance(v, Node) else _Given(v) for k, v in kwargs.items()}
    return _call_op(fun, *args, **kwargs)


_method_ops: dict[str, FunModule] = {}


def call_method(obj: Any, method: str, *args: Any, **kwargs: Any) -> Any:
    """Traced ``obj.method(*args, **kwargs)``; the operation is named after the method."""
    op = _method_ops.get(method)
    if op is None:

        def run(x: Any, *args: Any, **kwargs: Any) -> Any:
            return builtins.getattr(x, method)(*args, **kwargs)

        op = _method_ops.setdefault(
            method, FunModule(run, description=f"x.{method}(...): calls the method {method!r} of x", name=method, operator=True)
        )
    return op(obj, *args, **kwargs)


def _call_llm(system_prompt: Any, *user_prompts: Any, **kwargs: Any) -> Any:
    # The LLM layer sits above this one: it is looked up when the operator runs, as the
    # package's lazy submodules are, never imported by this module.
    llm = importlib.import_module("trace_opt.llm").get_llm()
    messages = [{"role": "system", "content": system_prompt}]
    messages += [{"role": "user", "content": p} for p in user_prompts]
    return llm.complete(messages, **kwargs).text


call_llm = FunModule(_call_llm, description="Asks the active LLM: a system prompt, then user prompts.",
                     name="call_llm", operator=True)  # fmt: skip
