"""Trace parity of ``Module`` (issue 13, item 5): ``parameters_dict()`` has Trace's shape,
while the flat dotted view stays in ``named_parameters()`` / ``state_dict()``."""

from __future__ import annotations

import json

import trace_opt as trace


def dummy_method():
    return 1


class Base(trace.Module):
    def __init__(self):
        self._param = trace.node(1, trainable=True)
        self.constant = trace.node(5)

    @trace.bundle(trainable=True)
    def method1(self, x):
        return x

    @trace.bundle()
    def helper(self, y):
        return y

    def plain(self, y):
        return y


class Child(Base):
    def __init__(self):
        super().__init__()
        self._extra_param = trace.node(1, trainable=True)
        self._extra_method = trace.bundle(trainable=True)(dummy_method)
        self._base = Base()

    @trace.bundle(trainable=True)
    def method1(self, x):
        return x


def test_parameters_dict_has_traces_shape() -> None:
    child = Child()
    entries = child.parameters_dict()
    assert set(entries) == {"_param", "_extra_param", "_extra_method", "_base", "method1"}
    assert entries["_base"] is child._base  # a sub-module is one entry
    assert entries["_extra_method"] is child._extra_method.parameter  # a bundled function: its code
    assert entries["method1"] is child.method1.parameter  # a trainable method under its own name
    assert entries["_param"] is child._param
    assert len(child.parameters()) == 6  # sub-module and both code copies flattened


def test_the_flat_dotted_view_stays_in_named_parameters_and_state_dict() -> None:
    child = Child()
    names = [n for n, _ in child.named_parameters()]
    assert names == [
        "_param", "_extra_param", "_extra_method.__code", "_base._param", "_base.method1.__code", "method1.__code",
    ]  # fmt: skip
    assert list(child.state_dict()) == names


def test_an_overridden_method_counts_once_and_uses_the_subclass_code() -> None:
    child = Child()
    codes = [p for n, p in child.named_parameters() if n == "method1.__code"]
    assert len(codes) == 1 and codes[0] is child.method1.parameter
    assert child.method1.fun.info.fun_name.endswith("Child.method1")


def test_model_decorated_classes_have_the_same_shape() -> None:
    @trace.model
    class Agent:
        def __init__(self):
            self.prompt = trace.node("hi", trainable=True)
            self.tools = [trace.node("t", trainable=True)]

        @trace.bundle(trainable=True)
        def forward(self, x):
            return x

    a = Agent()
    assert list(a.parameters_dict()) == ["prompt", "tools.0", "forward"]
    assert a.parameters_dict()["forward"] is a.forward.parameter


def test_a_modified_model_saves_and_loads_as_json(tmp_path) -> None:
    child = Child()
    child._extra_param._set(2)
    child._base._param._set(3)
    path = tmp_path / "test.pkl"
    child.save(path)
    assert json.loads(path.read_text())["parameters"]["_base._param"] == 3
    fresh = Child()
    fresh.load(path)
    assert fresh._extra_param.data == 2 and fresh._base._param.data == 3


def test_module_class_attributes_are_members_as_in_trace() -> None:
    class Shared(trace.Module):
        def __init__(self):
            self.p = trace.node("s", trainable=True)

    class Holder(trace.Module):
        shared = Shared()

    h = Holder()
    assert h.parameters_dict() == {"shared": Holder.shared}
    assert [n for n, _ in h.named_parameters()] == ["shared.p"]
