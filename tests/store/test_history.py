"""Parameter history: versions with parent links, diff, checkout into load_state_dict."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import trace_opt as trace
from trace_opt.errors import StoreError
from trace_opt.store import ParameterChange, Store, Version


class Agent(trace.Module):
    def __init__(self) -> None:
        self.system = trace.node("You are terse.", trainable=True)
        self.shots = trace.node([("q", "a")], trainable=True)

    @trace.bundle(trainable=True)
    def answer(self, q):
        return q.upper()


def test_commit_history_checkout_roundtrip() -> None:
    agent, store = Agent(), Store()
    v1 = store.commit_parameters(agent, "initial")
    agent.system._set("You are very terse.")
    v2 = store.commit_parameters(agent, "terser")
    agent.shots._set([("q", "a"), ("r", "b")])
    v3 = store.commit_parameters(agent, "more shots")
    history = store.history(agent)
    assert [v.ref for v in history] == [v3, v2, v1]
    assert [v.message for v in history] == ["more shots", "terser", "initial"]
    assert history[0].parent == v2 and history[-1].parent is None
    assert history[0].changed == ("shots",) and history[1].changed == ("system",)
    assert set(history[2].changed) == {"system", "shots", "answer.__code"}
    assert isinstance(history[0], Version) and history[0].branch.endswith(":Agent")

    agent.load_state_dict(store.checkout(v1))
    assert agent.system.data == "You are terse." and agent.shots.data == [("q", "a")]
    assert v2.checkout() == history[1].state() == {**store.checkout(v1), "system": "You are very terse."}
    assert list(store.checkout(v3)) == [n for n, _ in agent.named_parameters()]  # parameter order kept


def test_unchanged_values_are_not_stored_again() -> None:
    agent, store = Agent(), Store()
    store.commit_parameters(agent)
    before = len(store)
    agent.system._set("new")
    store.commit_parameters(agent)
    assert len(store) == before + 2  # the new value and the version record, nothing else


def test_no_change_returns_the_parent() -> None:
    agent, store = Agent(), Store()
    v1 = store.commit_parameters(agent, "one")
    assert store.commit_parameters(agent, "same again") == v1
    assert len(store.history(agent)) == 1


def test_diff() -> None:
    agent, store = Agent(), Store()
    v1 = store.commit_parameters(agent)
    agent.system._set("You are terse.\nAnswer in French.")
    agent.shots._set([("q", "b")])
    v2 = store.commit_parameters(agent)
    changes = store.diff(v1, v2)
    assert set(changes) == {"system", "shots"}
    system = changes["system"]
    assert isinstance(system, ParameterChange) and system.status == "changed"
    assert "+Answer in French." in str(system) and "--- a/system" in system.diff
    assert system.old == "You are terse." and system.new.endswith("French.")
    assert '-      "a"' in changes["shots"].diff and '+      "b"' in changes["shots"].diff
    assert store.diff(v2, v2) == {}


def test_diff_added_and_removed_parameters() -> None:
    store = Store()
    a = store.commit_parameters({"x": 1, "y": "old"}, name="free")
    b = store.commit_parameters({"x": 1, "z": [1]}, name="free")
    changes = store.diff(a, b)
    assert {k: c.status for k, c in changes.items()} == {"z": "added", "y": "removed"}
    assert changes["y"].diff.startswith("--- a/y") and "-old" in changes["y"].diff


def test_optimizer_style_parameter_list_is_named_by_position() -> None:
    p, q = trace.node("a", trainable=True), trace.node(0.5, trainable=True)
    store = Store()
    ref = store.commit_parameters([p, q], "step 0")
    assert store.checkout(ref) == {"0": "a", "1": 0.5}
    assert store.history("parameters")[0].ref == ref


def test_pairs_and_explicit_parent_make_branches() -> None:
    store = Store()
    base = store.commit_parameters([("w", 1)], name="exp")
    left = store.commit_parameters([("w", 2)], name="exp")
    right = store.commit_parameters([("w", 3)], parent=base, name="exp")
    assert [v.ref for v in store.history(right)] == [right, base]
    assert [v.ref for v in store.history(left)] == [left, base]
    assert store.history("exp")[0].ref == right  # the branch follows the newest commit


def test_history_limit_and_bad_targets() -> None:
    store = Store()
    for i in range(5):
        store.commit_parameters({"x": i}, name="b")
    assert len(store.history("b", limit=2)) == 2
    with pytest.raises(TypeError, match="Invalid history target"):
        store.history(42)  # type: ignore[arg-type]
    not_a_version = store.commit("just a string")
    with pytest.raises(StoreError, match="not a parameter version"):
        store.diff(not_a_version, not_a_version)
    assert store.checkout(not_a_version) == "just a string"


@pytest.mark.parametrize(
    "bad", [42, "text", [1, 2], [("a", 1), ("a", 2)], {1: "x"}],
)
def test_invalid_parameter_sources(bad: Any) -> None:
    with pytest.raises((TypeError, ValueError), match="Invalid parameter"):
        Store().commit_parameters(bad)


def test_history_in_another_store_handle(tmp_path: Path) -> None:
    agent = Agent()
    with Store(tmp_path / "h.db") as store:
        v1 = store.commit_parameters(agent, "first")
        agent.answer.parameter._set("def answer(self, q):\n    return q.lower()")  # type: ignore[union-attr]
        v2 = store.commit_parameters(agent, "code change")
    with Store(tmp_path / "h.db") as store:
        assert [v.ref.digest for v in store.history(Agent())] == [v2.digest, v1.digest]
        code = store.diff(v1.digest, v2.digest)["answer.__code"]
        assert "-    return q.upper()" in code.diff and "+    return q.lower()" in code.diff
        fresh = Agent()
        fresh.load_state_dict(store.checkout(v2.digest))
        assert fresh.answer("Hi").data == "hi"
