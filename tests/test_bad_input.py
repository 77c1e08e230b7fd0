"""Arbitrary input reaches only typed errors: nothing half-changed, no code run."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import trace_opt as trace
from trace_opt.errors import BackwardError, StateDictError
from trace_opt.constraints import Choice, JSONSchema, Regex

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


@trace.model
class Agent:
    def __init__(self) -> None:
        self.prompt = trace.node("Be brief.", trainable=True)
        self.temperature = trace.node(0.5, trainable=True)
        self.label = trace.node("yes", trainable=True, constraint=Choice(["yes", "no"]))

    @trace.bundle(trainable=True)
    def act(self, x):
        return x


@settings(max_examples=200, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(st.binary(max_size=300))
def test_module_load_of_arbitrary_bytes(tmp_path: Path, raw: bytes) -> None:
    agent = Agent()
    before = agent.state_dict()
    path = tmp_path / "model.json"
    path.write_bytes(raw)
    try:
        agent.load(path)
    except StateDictError:
        pass
    assert agent.state_dict() == before


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.sampled_from(["prompt", "temperature", "label", "act.__code", "other"]), json_values))
def test_load_state_dict_is_all_or_nothing(state: dict) -> None:
    agent = Agent()
    before = agent.state_dict()
    try:
        agent.load_state_dict(state, strict=False)
    except StateDictError:
        assert agent.state_dict() == before
        return
    after = agent.state_dict()
    for name, value in before.items():
        assert after[name] == (state[name] if name in state else value)
    assert after["label"] in ("yes", "no")  # a constrained parameter never holds a violating value


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_code_validation_never_runs_the_text(text: str) -> None:
    agent = Agent()
    marker = "trace_opt_validation_ran"
    source = f"import builtins\nbuiltins.{marker} = True\n{text}"
    try:
        agent.act.parameter.validate(source)
    except (SyntaxError, ValueError, TypeError):
        pass
    import builtins

    assert not hasattr(builtins, marker)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=100))
def test_constraint_checks_accept_any_text(text: str) -> None:
    def is_schema_object(t: str) -> bool:  # an independent oracle for the JSONSchema below
        try:
            value = json.loads(t)
        except ValueError:
            return False
        x = value.get("x", 0) if isinstance(value, dict) else None
        return isinstance(value, dict) and isinstance(x, int) and not isinstance(x, bool)

    oracles = [
        (Choice(["a", "b"]), text in ("a", "b")),
        (Regex(r"\d+"), re.fullmatch(r"\d+", text) is not None),
        (JSONSchema({"type": "object", "properties": {"x": {"type": "integer"}}}), is_schema_object(text)),
    ]
    for c, expected in oracles:
        result = c.check(text)
        assert bool(result) is expected, (c, text, result)
        if not result:
            assert result.reason


@pytest.mark.parametrize("target", [None, "text", 3, [trace.node(1)]])
def test_backward_on_a_non_node_names_the_value(target: object) -> None:
    with pytest.raises(BackwardError, match=type(target).__name__):
        trace.propagation.backward(target, "fb")  # type: ignore[arg-type]


def test_initial_value_must_satisfy_its_constraint() -> None:
    with pytest.raises(ValueError, match="breaks its constraint"):
        trace.node("maybe", trainable=True, constraint=Choice(["yes", "no"]))


def test_state_file_written_by_save_is_plain_json(tmp_path: Path) -> None:
    agent = Agent()
    agent.save(tmp_path / "a.json")
    doc = json.loads((tmp_path / "a.json").read_text())
    assert set(doc["parameters"]) == {"prompt", "temperature", "label", "act.__code"}


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.binary(max_size=200), json_values.map(lambda v: json.dumps(v).encode())))
def test_store_decoding_of_arbitrary_bytes(raw: bytes) -> None:
    from trace_opt.errors import StoreError
    from trace_opt.store import loads

    try:
        loads(raw)
    except StoreError:
        pass


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(st.binary(max_size=2000))
def test_opening_an_arbitrary_file_as_a_store(tmp_path: Path, raw: bytes) -> None:
    from trace_opt.errors import StoreError
    from trace_opt.store import Store

    path = tmp_path / "store.sqlite"
    path.write_bytes(raw)
    try:
        store = Store(path)
    except StoreError:
        return
    try:
        store.commit({"ok": 1})
    except StoreError:
        pass
    finally:
        store.close()
