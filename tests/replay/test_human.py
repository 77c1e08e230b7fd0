"""Human in the loop: request_input pauses a recorded run; resume continues it."""

from __future__ import annotations

import random
from collections import Counter

import pytest

import trace_opt as trace
from trace_opt.errors import InputRequested, ReplayDivergence, StoreError
from trace_opt.replay import Run, record, request_input
from trace_opt.store import Store

RAN: Counter[str] = Counter()


@trace.bundle()
def roll():
    RAN["roll"] += 1
    return random.randint(1, 6)


@trace.bundle()
def turn(player):
    first = roll().data
    choice = request_input(f"{player} rolled {first}: keep or reroll?")
    return roll().data if choice == "reroll" else first


def game(player: str) -> str:
    score = turn(player).data
    name = request_input("Your name?")
    return f"{name} scored {score}"


def start(store: Store) -> tuple[Run, InputRequested]:
    with pytest.raises(InputRequested) as asked:
        with record(store) as run:
            game("ann")
    return run, asked.value


def test_pause_persists_the_run_and_says_what_was_asked() -> None:
    store = Store()
    run, asked = start(store)
    assert asked.prompt.startswith("ann rolled ") and asked.run_ref == run.id
    assert "help: answer it with run.resume(answer)" in str(asked)
    assert run.status == "waiting" and run.pending == (2, asked.prompt)
    loaded = Run.load(store, asked.run_ref)
    assert loaded.status == "waiting" and loaded.pending == run.pending
    assert loaded.summary().splitlines() == [
        "->turn('ann') paused",
        f"  ->roll() = {run.calls[1].output}",
        f"  ->request_input({asked.prompt!r}) waiting for input",
    ]


def test_resume_in_process_replays_up_to_the_question() -> None:
    run, asked = start(Store())
    first = run.calls[1].output
    RAN.clear()
    with pytest.raises(InputRequested, match="Your name") as second:
        run.resume(game, "keep", "ann")
    assert RAN == {}  # the first roll came from the record
    waiting = Run.load(run.store, second.value.run_ref or "")
    done = waiting.resume(game, "Ann", "ann")
    assert done.output == f"Ann scored {first}" and done.status == "finished" and RAN == {}
    assert [c.name for c in done.calls] == ["turn", "roll", "request_input", "request_input"]
    assert [c.replayed for c in done.calls] == [True, True, True, False] and done.calls[3].overridden


def test_resume_without_the_program_in_the_recording_process() -> None:
    def program() -> str:
        return "Hello, " + request_input("Your name?")

    with pytest.raises(InputRequested):
        with record(Store()) as run:
            program()
    with pytest.raises(StoreError, match="pass it"):
        run.resume("Ada")  # the block called no bundled function: nothing to re-issue
    assert run.resume(program, "Ada").output == "Hello, Ada"


def test_resume_a_bundled_top_level_call_with_only_the_answer() -> None:
    with pytest.raises(InputRequested):
        with record(Store()) as run:
            turn("bob")
    RAN.clear()
    again = run.resume("reroll")
    assert again.output.data == again.calls[3].output and RAN == {"roll": 1}


def test_an_answered_question_is_not_asked_again() -> None:
    run, _ = start(Store())
    with pytest.raises(InputRequested) as asked:
        run.resume(game, "keep", "ann")
    done = Run.load(run.store, asked.value.run_ref or "").resume(game, "Ann", "ann")
    assert done.replay(game, "ann").output == done.output  # every answer comes from the record


def test_request_input_outside_a_run() -> None:
    with pytest.raises(InputRequested) as asked:
        request_input("Anyone?")
    assert asked.value.run_ref is None
    with pytest.raises(TypeError, match="Invalid prompt"):
        request_input(42)  # type: ignore[arg-type]


def test_pause_is_not_feedback_for_bundled_callers() -> None:
    """An optimizer catching ExecutionError must not swallow the pause."""

    @trace.bundle()
    def wrapper():
        try:
            return turn("cy")
        except Exception:  # noqa: BLE001
            return "swallowed"

    with pytest.raises(InputRequested):
        with record(Store()):
            wrapper()


def test_resume_errors() -> None:
    store = Store()
    with record(store) as run:
        roll()
    with pytest.raises(StoreError, match="not waiting for input"):
        run.resume("x")
    paused, _ = start(store)

    def other(player: str) -> str:
        return "never asks"

    with pytest.raises(ReplayDivergence, match="without reaching request_input"):
        paused.resume(other, "keep", "ann")
