from __future__ import annotations

import asyncio
import subprocess
import sys
import threading

import pytest

import trace_opt as trace
from trace_opt.errors import BundleError


@trace.bundle()
def greet(lang, name):
    """Produce a greeting based on the language."""
    return f"Hello, {name}!" if lang == "en" else f"Hola, {name}!"


def test_bundle_returns_message_node_with_inputs_as_parents() -> None:
    lang = trace.node("es")
    out = greet(lang, "Juan")
    assert isinstance(out, trace.MessageNode)
    assert out.data == "Hola, Juan!"
    assert out.parents[0] is lang
    assert out.parents[1].data == "Juan"  # plain arguments are wrapped
    assert list(out.inputs) == ["lang", "name"]
    assert out.op.name == "greet"
    assert out.op.doc == "Produce a greeting based on the language."
    assert out.op.source.startswith("def greet(lang, name):")
    assert "@trace.bundle" not in out.op.source


def test_bundle_with_and_without_parentheses() -> None:
    @trace.bundle
    def f(x):
        return x + 1

    @trace.bundle("adds two")
    def g(x):
        return x + 2

    assert f(1).data == 2 and g(1).data == 3
    assert g(1).op.doc == "adds two"


def test_keyword_arguments_and_varargs_are_named() -> None:
    @trace.bundle()
    def f(a, *rest, scale=1):
        return (a + sum(rest)) * scale

    out = f(1, 2, 3, scale=trace.node(2))
    assert out.data == 12
    assert list(out.inputs) == ["a", "rest_0", "rest_1", "scale"]


def test_bundle_rejects_non_callables() -> None:
    with pytest.raises(BundleError, match="needs a function"):
        trace.bundle()(42)
    with pytest.raises(BundleError, match="must be a string"):
        trace.bundle(3)  # type: ignore[call-overload]


def test_exception_becomes_execution_error_with_graph_node() -> None:
    @trace.bundle()
    def div(a, b):
        return a / b

    x = trace.node(1, trainable=True)
    with pytest.raises(trace.ExecutionError) as info:
        div(x, 0)
    enode = info.value.exception_node
    assert isinstance(enode, trace.ExceptionNode)
    assert enode.parents[0] is x
    assert "ZeroDivisionError" in enode.data and "division by zero" in enode.data
    assert "return a / b" in enode.data  # the user's frame, for the optimizer
    assert isinstance(info.value.exception, ZeroDivisionError)
    enode.backward(enode.data)
    assert x.feedback and "ZeroDivisionError" in x.feedback[0].text


def test_catch_execution_error_false_raises_the_original() -> None:
    @trace.bundle(catch_execution_error=False)
    def boom():
        raise KeyError("k")

    with pytest.raises(KeyError):
        boom()


def test_nested_execution_error_is_attributed_to_the_outer_call() -> None:
    @trace.bundle()
    def inner(x):
        raise ValueError(f"bad {x}")

    @trace.bundle()
    def outer(x):
        return inner(x)

    a = trace.node(5)
    with pytest.raises(trace.ExecutionError) as info:
        outer(a)
    assert info.value.exception_node.parents == (a,)
    assert "bad 5" in info.value.exception_node.data


def test_trainable_code_is_a_parameter_and_recompiles() -> None:
    @trace.bundle(trainable=True)
    def double(x):
        return x * 2

    code = double.parameter
    assert isinstance(code, trace.CodeParameter)
    assert code.data.startswith("def double(x):")
    out = double(3)
    assert out.data == 6 and out.parents[-1] is code
    assert list(out.inputs) == ["x", "__code"]
    code._set("def double(x):\n    return x * 3\n")
    assert double(3).data == 9
    assert double.code_changed


def test_broken_new_code_is_feedback_not_a_crash() -> None:
    @trace.bundle(trainable=True)
    def f(x):
        return x

    f.parameter._set("def f(x):\n    return x +\n")
    with pytest.raises(trace.ExecutionError) as info:
        f(1)
    assert "SyntaxError" in info.value.exception_node.data
    assert info.value.exception_node.parents[-1] is f.parameter
    f.parameter._set("def g(x):\n    return x\n")
    with pytest.raises(trace.ExecutionError, match="must define a function named 'f'"):
        f(1)
    f.parameter._set("def f(x):\n    return undefined_name\n")
    with pytest.raises(trace.ExecutionError, match="NameError"):
        f(1)
    f.parameter._set("def f(x):\n    return x + 10\n")
    assert f(1).data == 11


def test_new_code_sees_module_globals_and_closures() -> None:
    offset = 100

    @trace.bundle(trainable=True)
    def f(x):
        return pytest and x + offset  # the new code may use what the original refers to

    f.parameter._set("def f(x):\n    return pytest.__name__ + str(x + offset)\n")
    assert f(1).data == "pytest101"


def test_code_parameter_validate() -> None:
    @trace.bundle(trainable=True)
    def f(x):
        return x

    f.parameter.validate("def f(x):\n    return 2\n")
    with pytest.raises(SyntaxError):
        f.parameter.validate("def f(x) return")


def test_methods_are_bound_and_self_is_not_traced() -> None:
    class Agent:
        def __init__(self, k):
            self.k = k

        @trace.bundle()
        def act(self, x):
            """Multiply."""
            return x * self.k

    out = Agent(3).act(trace.node(2))
    assert out.data == 6
    assert list(out.inputs) == ["x"]


def test_trainable_methods_have_per_instance_code() -> None:
    class Agent:
        @trace.bundle(trainable=True)
        def act(self, x):
            return x

    a, b = Agent(), Agent()
    assert a.act.parameter is not b.act.parameter
    assert a.act.parameter is a.act.parameter
    a.act.parameter._set("def act(self, x):\n    return -x\n")
    assert a.act(2).data == -2 and b.act(2).data == 2


def test_async_functions() -> None:
    @trace.bundle()
    async def fetch(x):
        await asyncio.sleep(0)
        return x + 1

    @trace.bundle()
    async def fail(x):
        raise RuntimeError("nope")

    x = trace.node(1)
    out = asyncio.run(fetch(x))
    assert out.data == 2 and out.parents == (x,)
    with pytest.raises(trace.ExecutionError, match="nope"):
        asyncio.run(fail(x))


def test_stop_tracing_records_no_edges_and_restores() -> None:
    x = trace.node(1)
    with trace.stop_tracing():
        assert not trace.is_tracing()
        y = greet(x, "a")
        z = x + 1
        with trace.tracing():
            w = x + 1
    assert trace.is_tracing()
    assert y.parents == () and z.parents == () and w.parents == (x, w.parents[1])


def test_tracing_state_is_per_thread() -> None:
    started, release = threading.Event(), threading.Event()
    seen = {}

    def other():
        with trace.stop_tracing():
            started.set()
            release.wait(5)
            seen["inner"] = (trace.node(1) + 1).parents

    t = threading.Thread(target=other)
    t.start()
    started.wait(5)
    here = (trace.node(1) + 1).parents  # the other thread's stop_tracing must not leak here
    release.set()
    t.join()
    assert len(here) == 2 and seen["inner"] == ()


def test_tracing_state_is_per_asyncio_task() -> None:
    async def untraced():
        with trace.stop_tracing():
            await asyncio.sleep(0.01)
            return (trace.node(1) + 1).parents

    async def traced():
        await asyncio.sleep(0.005)
        return (trace.node(1) + 1).parents

    async def main():
        return await asyncio.gather(untraced(), traced())

    a, b = asyncio.run(main())
    assert a == () and len(b) == 2


def test_works_under_python_dash_c() -> None:
    code = (
        "import trace_opt as t\n"
        "@t.bundle(trainable=True)\n"
        "def f(x):\n"
        "    '''Add one.'''\n"
        "    return x + 1\n"
        "out = f(t.node(1))\n"
        "assert out.data == 2, out\n"
        "assert 'def f(x)' in f.parameter.data and 'Add one.' in f.parameter.data\n"
        "f.parameter._set('def f(x):\\n    return x + 5\\n')\n"
        "assert f(1).data == 6\n"
        "print('ok')\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "ok"


def test_with_info_attaches_metadata() -> None:
    @trace.bundle()
    def fake_llm(prompt):
        return trace.WithInfo(prompt.upper(), {"model": "m", "usage": {"tokens": 3}})

    out = fake_llm("hi")
    assert out.data == "HI" and out.info == {"model": "m", "usage": {"tokens": 3}}


def test_traceable_code_passes_nodes() -> None:
    @trace.bundle(traceable_code=True)
    def f(x, y):
        assert isinstance(x, trace.Node) and isinstance(y, trace.Node)
        return x + y

    a = trace.node(1)
    out = f(a, 2)
    assert out.data == 3 and out.parents[0] is a
    assert out.info["output"].data == 3
