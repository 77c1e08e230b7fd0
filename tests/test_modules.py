from __future__ import annotations

import copy
import json

import pytest

import trace_opt as trace
from trace_opt.errors import StateDictError


@trace.model
class Agent:
    def __init__(self):
        self.instruct = trace.node("Extract name", trainable=True)
        self.fixed = trace.node("not trained")
        self.tools = [trace.node("t0", trainable=True), {"k": trace.node(1.5, trainable=True)}]

    @trace.bundle(trainable=True)
    def extract(self, instruct, query):
        """Extract the name."""
        return query.split()[-1]

    @trace.bundle()
    def plain(self, x):
        return x

    def __call__(self, query):
        return self.extract(self.instruct, query)


class Outer(trace.Module):
    def __init__(self):
        self.agent = Agent()
        self.prompt = trace.node("outer", trainable=True)


def test_model_collects_parameters_in_order_including_code() -> None:
    a = Agent()
    names = [n for n, _ in a.named_parameters()]
    assert names == ["instruct", "tools.0", "tools.1.k", "extract.__code"]
    params = a.parameters()
    assert all(p.trainable for p in params)
    assert params[-1] is a.extract.parameter
    assert isinstance(a, trace.Module) and type(a).__name__ == "Agent"


def test_nested_modules_and_per_instance_copies() -> None:
    o1, o2 = Outer(), Outer()
    n1 = [n for n, _ in o1.named_parameters()]
    assert n1[:2] == ["agent.instruct", "agent.tools.0"] and n1[-1] == "prompt"
    assert not set(map(id, o1.parameters())) & set(map(id, o2.parameters()))


def test_feedback_reaches_parameters_through_a_model_call() -> None:
    a = Agent()
    out = a("Hola, soy Juan")
    assert out.data == "Juan"
    out.backward("wrong")
    assert a.instruct.feedback and a.extract.parameter.feedback
    assert not a.tools[0].feedback


def test_state_dict_round_trip_and_save_load(tmp_path) -> None:
    a, b = Agent(), Agent()
    a.instruct._set("Find the person's name")
    a.extract.parameter._set("def extract(self, instruct, query):\n    return query.split()[0]\n")
    path = tmp_path / "agent.json"
    a.save(path)
    doc = json.loads(path.read_text())
    assert doc["format"] == "trace_opt.module" and doc["parameters"]["instruct"] == "Find the person's name"
    b.load(path)
    assert b.state_dict() == a.state_dict()
    assert b("Juan dice hola").data == "Juan"


def test_load_state_dict_validates_before_changing_anything() -> None:
    a = Agent()
    before = a.state_dict()
    bad_code = dict(before, **{"instruct": "new", "extract.__code": "def extract(self, q) return"})
    with pytest.raises(StateDictError, match="does not compile"):
        a.load_state_dict(bad_code)
    assert a.state_dict() == before  # the good "instruct" value was not applied either
    with pytest.raises(StateDictError, match="unknown keys \\['nope'\\]"):
        a.load_state_dict(dict(before, nope=1))
    with pytest.raises(StateDictError, match="missing keys"):
        a.load_state_dict({"instruct": "x"})
    with pytest.raises(StateDictError, match="holds a str"):
        a.load_state_dict(dict(before, instruct=3))
    a.load_state_dict({"instruct": "partial"}, strict=False)
    assert a.instruct.data == "partial"


def test_load_rejects_bad_files_without_changes(tmp_path) -> None:
    a = Agent()
    before = a.state_dict()
    for content in (b"\xff\xfe garbage", b"[1, 2]", b'{"format": "other"}', b"{"):
        p = tmp_path / "bad.json"
        p.write_bytes(content)
        with pytest.raises(StateDictError):
            a.load(p)
    with pytest.raises(StateDictError, match="cannot read"):
        a.load(tmp_path / "missing.json")
    assert a.state_dict() == before


def test_save_refuses_non_json_values_and_keeps_old_file(tmp_path) -> None:
    a = Agent()
    path = tmp_path / "agent.json"
    a.save(path)
    old = path.read_text()
    a.instruct._set(object())
    with pytest.raises(StateDictError, match="not JSON"):
        a.save(path)
    assert path.read_text() == old
    assert [p.name for p in tmp_path.iterdir()] == ["agent.json"]


def test_deepcopy_of_a_model_has_independent_parameters() -> None:
    a = Agent()
    b = copy.deepcopy(a)
    assert b.instruct is not a.instruct and b.instruct.data == a.instruct.data
    b.instruct._set("changed")
    assert a.instruct.data == "Extract name"


def test_model_requires_a_class() -> None:
    with pytest.raises(TypeError):
        trace.model(lambda: None)  # type: ignore[type-var]


def test_deepcopy_keeps_code_parameters_tied_to_their_copy() -> None:
    a = Agent()
    a.extract(a.instruct, "x y")  # creates the per-instance code copy
    b = copy.deepcopy(a)
    assert b.extract.parameter is not a.extract.parameter
    assert b.extract.parameter.fun is b.extract.fun
    b.extract.parameter._set("def extract(self, instruct, query):\n    return 'B'\n")
    assert b("q").data == "B" and a("q r").data == "r"
