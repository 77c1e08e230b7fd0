"""Recording: the call tree of bundled and LLM calls, written call by call."""

from __future__ import annotations

import asyncio
import dataclasses
import random
import sys
from typing import Any

import pytest

import trace_opt as trace
from trace_opt.context import CALL_HOOK
from trace_opt.llm import DummyLLM, generate_text
from trace_opt.replay import Call, Run, record
from trace_opt.store import Opaque, Store, active_store


@trace.bundle()
def roll(sides=6):
    """Roll one die."""
    return random.randint(1, sides)


@trace.bundle()
def roll_sum(n):
    """Roll n dice and add them up."""
    return sum(roll().data for _ in range(n))


def test_summary_is_the_call_tree() -> None:
    random.seed(7)
    with record(Store()) as run:
        total = roll_sum(2)
    rolls = [c.output for c in run.calls[1:]]
    assert run.summary() == f"->roll_sum(2) = {total.data}\n  ->roll() = {rolls[0]}\n  ->roll() = {rolls[1]}"
    assert sum(rolls) == total.data and run.status == "finished"
    assert [(c.index, c.parent, c.end) for c in run.calls] == [(0, None, 2), (1, 0, 1), (2, 0, 2)]


def test_calls_keep_inputs_outputs_and_timing() -> None:
    with record(Store()) as run:
        roll(sides=20)
    call = run[0]
    assert isinstance(call, Call) and call.name == "roll"
    assert call.inputs == {"args": [], "kwargs": {"sides": 20}} and 1 <= call.output <= 20
    assert call.error is None and call.duration >= 0 and not call.replayed
    assert len(run) == 1 and "Call(0" in repr(call)


def test_errors_are_recorded_and_the_program_sees_them() -> None:
    @trace.bundle()
    def div(a, b):
        return a / b

    @trace.bundle()
    def outer():
        return div(1, 0)

    with record(Store()) as run:
        with pytest.raises(trace.ExecutionError):
            outer()
    inner, top = run.calls[1], run.calls[0]
    assert inner.error is not None and inner.error["type"] == "builtins:ZeroDivisionError"
    assert top.error is not None and top.error["type"] == "builtins:ZeroDivisionError"  # the original cause
    assert "raised ZeroDivisionError: division by zero" in run.summary()


def test_a_failing_block_marks_the_run_failed() -> None:
    store = Store()
    with pytest.raises(RuntimeError, match="boom"), record(store) as run:
        roll()
        raise RuntimeError("boom")
    assert run.status == "failed" and "boom" in run.meta["error"] and len(run) == 1
    assert Run.load(store, run.id).status == "failed"


def test_operators_are_not_calls_unless_asked() -> None:
    x = trace.node(2)
    with record(Store()) as run:
        y = roll() + x
    assert [c.name for c in run.calls] == ["roll"] and y.data >= 3
    with record(Store(), operators=True) as run:
        roll() + x  # noqa: B018
    assert [c.name for c in run.calls] == ["roll", "add"]


def test_llm_calls_are_recorded_with_usage() -> None:
    llm = DummyLLM(["Blue", "Green"])
    prompt = trace.node("Name a color.", trainable=True)
    with record(Store()) as run:
        out = generate_text(prompt, llm=llm)
    call = run.calls[0]
    assert call.name == "generate_text" and call.output == "Blue" == out.data
    assert call.info["model"] == "dummy" and call.info["usage"] == out.info["usage"]
    p, c = call.tokens
    assert (p, c) == (out.info["usage"].prompt_tokens, out.info["usage"].completion_tokens) and p > 0
    assert isinstance(call.info["constraint"], (Opaque, type(None)))
    assert run.tokens == (p, c)


def test_async_bundled_calls() -> None:
    @trace.bundle()
    async def fetch(x):
        await asyncio.sleep(0)
        return x * 2

    @trace.bundle()
    async def both():
        a = await fetch(1)
        b = await fetch(2)
        return a.data + b.data

    async def main() -> Any:
        return await both()

    with record(Store()) as run:
        out = asyncio.run(main())
    assert out.data == 6
    assert run.summary() == "->both() = 6\n  ->fetch(1) = 2\n  ->fetch(2) = 4"


def test_methods_show_without_their_instance() -> None:
    class Agent(trace.Module):
        def __init__(self) -> None:
            self.greeting = trace.node("Hello", trainable=True)

        @trace.bundle()
        def greet(self, name):
            return f"{self.greeting.data}, {name}"

    agent = Agent()
    with record(Store()) as run:
        agent.greet("Ada")
    assert run.summary() == "->greet('Ada') = 'Hello, Ada'"
    assert isinstance(run.calls[0].inputs["args"][0], Opaque)  # the module itself has no canonical form


def test_outputs_without_canonical_form_are_kept_opaque() -> None:
    class Handle:
        pass

    @trace.bundle()
    def open_handle():
        return Handle()

    with record(Store()) as run:
        h = open_handle()
    assert isinstance(h.data, Handle)
    assert "<" in run.summary() and "Handle>" in run.summary()


def test_each_call_is_persisted_when_it_completes(tmp_path: Any) -> None:
    seen: list[int] = []
    store = Store(tmp_path / "r.db")

    @trace.bundle()
    def check():
        other = Store(tmp_path / "r.db")  # another connection sees the completed calls already
        seen.append(len(Run.load(other, run_id[0]).calls))
        other.close()
        return True

    run_id: list[str] = []
    with record(store) as run:
        run_id.append(run.id)
        roll()
        check()
        roll()
    assert seen == [1] and len(Run.load(store, run.id)) == 3
    store.close()


def test_record_sets_hook_and_store_and_restores_them() -> None:
    store = Store()
    with record(store):
        assert active_store() is store and CALL_HOOK.get() is not None
    assert active_store() is None and CALL_HOOK.get() is None
    with pytest.raises(TypeError, match="record needs a trace_opt Store"):
        with record("runs.db"):  # type: ignore[arg-type]
            pass


def test_run_ref_is_a_content_digest_and_loads() -> None:
    store = Store()
    with record(store) as run:
        roll_sum(3)
    ref = run.ref
    assert len(ref.digest) == 64 and run.ref == ref  # stable once closed
    loaded = Run.load(store, ref.digest)
    assert loaded.id == run.id and loaded.summary() == run.summary()
    assert Run.load(store, run.id).summary() == run.summary()
    assert [r.id for r in Run.list(store)] == [run.id]


def test_dataclass_outputs_round_trip() -> None:
    @dataclasses.dataclass
    class Throw:
        dice: tuple[int, ...]

    @trace.bundle()
    def throw():
        return Throw((1, 2))

    with record(Store()) as run:
        throw()
    assert run.calls[0].output == Throw((1, 2))


def test_ref_exists_once_the_run_is_closed_and_guards_its_calls(tmp_path: Any) -> None:
    import contextlib
    import sqlite3

    from trace_opt.errors import StoreError

    store = Store(tmp_path / "r.db")
    with record(store) as run:
        roll()
        with pytest.raises(StoreError, match="still recording"):
            run.ref  # noqa: B018
    ref = run.ref.digest
    with contextlib.closing(sqlite3.connect(tmp_path / "r.db")) as conn, conn:
        conn.execute("UPDATE calls SET name = 'forged' WHERE run = ?", (run.id,))
    with pytest.raises(StoreError, match="do not match snapshot"):
        Run.load(store, ref)
    with pytest.raises(StoreError, match="do not match snapshot"):  # by id too: a closed run is checked
        Run.load(store, run.id)
    store.close()


def test_parallel_calls_keep_their_parents() -> None:
    from trace_opt.execution import map as tmap

    @trace.bundle()
    def fan_out(n):
        return sum(x.data for x in tmap(lambda _: roll(), range(n)))

    with record(Store()) as run:
        fan_out(4)
    assert [c.parent for c in run.calls] == [None, 0, 0, 0, 0]
    assert run.calls[0].end == 4 and run.calls[0].output == sum(c.output for c in run.calls[1:])


def test_dot_marks_replay_points_and_overrides() -> None:
    with record(Store()) as run:
        roll_sum(2)
    dot = run.rewind(1).dot()
    assert dot.startswith("digraph run {") and "\tc0 -> c1\n" in dot
    assert 'PORT="afresh"' in dot and 'style="rounded,filled,dashed"' in dot  # the calls after the point
    changed = run.replay(overrides={1: 6})
    assert '#ffd8a8' in changed.dot() and '#eeeeee' not in changed.dot()
    assert '#eeeeee' in run.replay().dot()  # replayed calls are grey


def test_dot_is_the_picture_render_draws_and_needs_no_graphviz(monkeypatch: pytest.MonkeyPatch) -> None:
    with record(Store()) as run:
        roll_sum(2)
    graphviz = pytest.importorskip("graphviz")
    from trace_opt.visualize import render

    drawn = render(run)
    assert isinstance(drawn, graphviz.Source) and drawn.source == run.dot()  # one renderer, not two
    monkeypatch.setitem(sys.modules, "graphviz", None)  # the optional package missing: importing it raises
    source = run.dot(rankdir="TB")
    assert "rankdir=TB" in source and 'legend [label=<<TABLE' in source and "\tc0 -> c1\n" in source
