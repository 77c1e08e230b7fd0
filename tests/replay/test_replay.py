"""Replay points: rewind, replay, overrides and strict mode, on seed-style dice programs."""

from __future__ import annotations

import logging
import random
from collections import Counter
from typing import Any

import pytest

import trace_opt as trace
from trace_opt.errors import ReplayDivergence, StoreError
from trace_opt.llm import FunctionLLM, generate_text, use_cache
from trace_opt.replay import Run, record
from trace_opt.store import Store

RAN: Counter[str] = Counter()


@trace.bundle()
def roll(sides=6):
    """Roll one die."""
    RAN["roll"] += 1
    return random.randint(1, sides)


@trace.bundle()
def roll_sum(n):
    """Roll n dice and add them up."""
    RAN["roll_sum"] += 1
    return sum(roll().data for _ in range(n))


@pytest.fixture(autouse=True)
def _fresh() -> None:
    RAN.clear()
    random.seed(1234)


def recorded(n: int = 3) -> tuple[Run, int]:
    with record(Store()) as run:
        total = roll_sum(n)
    return run, total.data


def rolls(run: Run) -> list[int]:
    return [c.output for c in run.calls if c.name == "roll"]


def test_rewind_one_roll_and_replay() -> None:
    run, _ = recorded(3)
    RAN.clear()
    again = run.rewind(1).replay()
    assert rolls(again)[:2] == rolls(run)[:2]  # earlier rolls identical, from the record
    assert RAN == {"roll_sum": 1, "roll": 1}  # only the last roll (and its parent) ran
    assert [c.replayed for c in again.calls] == [False, True, True, False]
    assert again.output.data == sum(rolls(again)) and again.parent == run.id
    assert again.status == "finished" and again.meta["point"] == 3


def test_rewound_view_summary() -> None:
    run, total = recorded(2)
    view = run.rewind(1)
    assert view.summary().splitlines() == [
        "->roll_sum(...) = ...  [re-runs]",
        f"  ->roll() = {rolls(run)[0]}",
        "-- replay point: calls from 2 on run afresh --",
    ]
    assert len(view) == 2 and run.rewind(0).point == 3 and view.rewind(1).point == 1
    with pytest.raises(ValueError, match="only 3 calls"):
        run.rewind(4)
    with pytest.raises(ValueError, match="Invalid n"):
        run.rewind(-1)


def test_full_replay_runs_nothing() -> None:
    run, total = recorded(3)
    RAN.clear()
    again = run.replay()
    assert RAN == {} and again.output.data == total
    assert all(c.replayed for c in again.calls) and again.summary().startswith(f"->roll_sum(3) = {total}  [replayed]")


def test_replay_with_the_program_and_arguments() -> None:
    run, total = recorded(3)
    RAN.clear()
    again = run.rewind(2).replay(roll_sum, 3)
    assert rolls(again)[0] == rolls(run)[0] and RAN["roll"] == 2
    same = run.replay(roll_sum)  # the bundled top-level function: its recorded arguments
    assert same.output.data == total


def test_override_one_call() -> None:
    run, _ = recorded(3)
    RAN.clear()
    changed = run.replay(overrides={2: 100})
    assert rolls(changed)[:2] == [rolls(run)[0], 100]
    assert RAN == {"roll_sum": 1, "roll": 1}  # roll 1 replayed, roll 2 overridden, roll 3 ran
    assert changed.calls[2].overridden and "[override]" in changed.summary()
    assert changed.output.data == sum(rolls(changed))


def test_override_keys_negative_and_call() -> None:
    run, _ = recorded(2)
    assert rolls(run.replay(overrides={-1: 6}))[-1] == 6
    assert rolls(run.replay(overrides={run.calls[1]: 5}))[0] == 5
    with pytest.raises(ValueError, match="Invalid override key"):
        run.replay(overrides={7: 1})


def test_override_with_an_exception() -> None:
    run, _ = recorded(2)
    with pytest.raises(trace.ExecutionError, match="die fell off"):
        run.replay(overrides={1: RuntimeError("die fell off")})


def test_strict_replay_flags_a_different_program() -> None:
    run, _ = recorded(3)
    with pytest.raises(ReplayDivergence, match=r"it was roll_sum\(3\) = \d+, now roll_sum\(2\)"):
        run.rewind(1).replay(roll_sum, 2, strict=True)
    diverged = Run.list(run.store)[0]
    assert diverged.status == "failed" and "ReplayDivergence" in diverged.meta["error"]


def test_strict_divergence_is_not_feedback() -> None:
    """Raised through bundled calls as it is: never an ExecutionError an optimizer would train on."""
    run, _ = recorded(3)

    @trace.bundle()
    def roll_sum(n):  # same name, different calls inside
        return roll(sides=8).data

    # A call that matches whole is replayed without running; rewind so roll_sum runs again.
    assert run.replay(roll_sum, 3, strict=True).output.data == run.calls[0].output
    with pytest.raises(ReplayDivergence, match=r"now roll\(sides=8\)"):
        run.rewind(1).replay(roll_sum, 3, strict=True)


def test_strict_replay_of_a_shorter_program() -> None:
    run, _ = recorded(3)

    @trace.bundle()
    def roll_sum(n):
        return 0

    with pytest.raises(ReplayDivergence, match="fewer than"):
        run.rewind(1).replay(roll_sum, 3, strict=True)

    def nothing() -> int:
        return 0

    with pytest.raises(ReplayDivergence, match="fewer than"):
        run.replay(nothing, strict=True)


def test_lenient_replay_runs_live_from_the_first_difference(caplog: pytest.LogCaptureFixture) -> None:
    run, _ = recorded(3)
    RAN.clear()
    with caplog.at_level(logging.WARNING, logger="trace_opt.replay.recorder"):
        again = run.replay(roll_sum, 2)
    assert "differs from the recorded run" in caplog.text
    assert RAN == {"roll_sum": 1, "roll": 2} and not any(c.replayed for c in again.calls)


def test_replay_of_a_replay_and_deterministic_digests() -> None:
    run, _ = recorded(3)
    first = run.rewind(1).replay()
    second = first.replay()
    assert rolls(second) == rolls(first) and all(c.replayed for c in second.calls)


def test_recorded_exceptions_replay_without_running() -> None:
    calls = Counter[str]()

    @trace.bundle()
    def flaky(x):
        calls["flaky"] += 1
        raise ValueError(f"bad {x}")

    def careful() -> str:
        try:
            flaky(1)
        except trace.ExecutionError as e:
            error = f"recovered from {e.exception!r}"
        return f"{error}, rolled {roll().data}"

    with record(Store()) as run:
        careful()
    calls.clear()
    again = run.rewind(1).replay(careful)  # flaky's error comes from the record, roll runs again
    assert again.output.startswith("recovered from ValueError('bad 1')") and calls == {}
    assert again.calls[0].replayed and again.calls[0].error is not None


def test_unreplayable_outputs_run_again() -> None:
    class Handle:
        pass

    made = Counter[str]()

    @trace.bundle()
    def open_handle():
        made["n"] += 1
        return Handle()

    with record(Store()) as run:
        open_handle()
    run.replay()
    assert made["n"] == 2


@pytest.fixture
def no_llm_cache() -> Any:
    with use_cache(None):  # count what reaches the model, not the cache
        yield


@pytest.mark.usefixtures("no_llm_cache")
def test_llm_calls_replay_with_zero_provider_calls() -> None:
    asked: list[Any] = []

    def model(messages: Any, **params: Any) -> str:
        asked.append(messages)
        return f"answer {len(asked)}"

    llm = FunctionLLM(model, name="counting")

    @trace.bundle()
    def agent(q):
        draft = generate_text(q, llm=llm, temperature=1.0)
        return generate_text(f"Improve: {draft.data}", llm=llm, temperature=1.0).data

    with record(Store()) as run:
        agent("Why?")
    n = len(asked)
    again = run.replay()
    assert len(asked) == n and again.output.data == run.calls[0].output
    assert again.tokens == (0, 0) and run.tokens[0] > 0  # replayed calls cost nothing
    tail = run.rewind(1).replay()  # the improve step asks again
    assert len(asked) == n + 1 and tail.calls[1].replayed and not tail.calls[2].replayed


def test_replay_needs_the_program_when_it_is_unknown(tmp_path: Any) -> None:
    run, _ = recorded(2)
    loaded = Run.load(run.store, run.id)  # as another process would see it
    with pytest.raises(StoreError, match="pass it: run.replay"):
        loaded.replay()
    assert loaded.rewind(1).replay(roll_sum).output.data >= 2


def test_replay_of_an_untrusted_output_type_says_how_to_trust_it(tmp_path: Any) -> None:
    store = Store(tmp_path / "r.db")
    code = (
        "import dataclasses, sys, trace_opt as trace\n"
        "from trace_opt.replay import record\nfrom trace_opt.store import Store\n"
        "@dataclasses.dataclass\nclass Secret:\n    x: int\n"
        "@trace.bundle()\ndef make():\n    return Secret(1)\n"
        f"with record(Store({str(tmp_path / 'r.db')!r})) as run:\n    make()\nprint(run.id)\n"
    )
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    loaded = Run.load(store, out.stdout.strip())

    @trace.bundle()
    def make():
        raise AssertionError("not run")

    with pytest.raises(StoreError, match="register_type"):
        loaded.replay(make)
    store.close()


def test_changed_trainable_code_never_reuses_old_outputs() -> None:
    @trace.bundle(trainable=True)
    def score(x):
        RAN["score"] += 1
        return x + 1

    with record(Store()) as run:
        score(1)
    assert "code" in run.calls[0].inputs
    RAN.clear()
    assert run.replay().output.data == 2 and RAN == {}  # same code: replayed
    score.parameter._set("def score(x):\n    return x + 10")  # type: ignore[union-attr]
    assert run.replay().output.data == 11  # new code: runs
    with pytest.raises(ReplayDivergence):
        run.replay(strict=True)
