"""Runs across processes: resume elsewhere, survive kill -9, record from two processes at once."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from trace_opt.replay import Run
from trace_opt.store import Store

ROOT = Path(__file__).resolve().parents[2]

PROGRAM = textwrap.dedent(
    """
    import json, random, sys, time
    import trace_opt as trace
    from trace_opt.errors import InputRequested
    from trace_opt.replay import Run, record, request_input
    from trace_opt.store import Store

    @trace.bundle()
    def roll():
        return random.randint(1, 6)

    @trace.bundle()
    def game(player):
        first = roll().data
        choice = request_input(f"{player} rolled {first}: keep or reroll?")
        second = roll().data if choice == "reroll" else first
        name = request_input("Your name?")
        return f"{name}: {first} -> {second}"

    @trace.bundle()
    def step(i):
        return i * i

    def say(**kw):
        print(json.dumps(kw), flush=True)

    if __name__ == "__main__":
        mode, path = sys.argv[1], sys.argv[2]
        store = Store(path)
        try:
            if mode == "start":
                with record(store) as run:
                    game("ann")
            elif mode == "resume":
                done = Run.load(store, sys.argv[3]).resume(game, sys.argv[4])
                say(output=done.output.data, id=done.id)
            elif mode == "steps":
                with record(store) as run:
                    say(id=run.id)
                    for i in range(int(sys.argv[3])):
                        say(done=i, out=step(i).data)
                        time.sleep(float(sys.argv[4]))
        except InputRequested as asked:
            say(prompt=asked.prompt, ref=asked.run_ref)
    """
)


@pytest.fixture
def program(tmp_path: Path) -> Path:
    path = tmp_path / "dice_program.py"
    path.write_text(PROGRAM)
    return path


def run_program(program: Path, *args: str) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    res = subprocess.run([sys.executable, str(program), *args], capture_output=True, text=True, timeout=120, env=env)
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def test_request_input_and_resume_in_other_processes(program: Path, tmp_path: Path) -> None:
    db = str(tmp_path / "runs.db")
    asked = run_program(program, "start", db)
    first = int(asked["prompt"].split()[2].rstrip(":"))
    again = run_program(program, "resume", db, asked["ref"], "keep")
    assert again["prompt"] == "Your name?"
    done = run_program(program, "resume", db, again["ref"], "Ann")
    assert done["output"] == f"Ann: {first} -> {first}"
    with Store(db) as store:
        run = Run.load(store, done["id"])
        assert run.status == "finished"
        assert [(c.name, c.replayed) for c in run.calls] == [
            ("game", False), ("roll", True), ("request_input", True), ("request_input", False),
        ]  # fmt: skip
        assert run.calls[0].output == done["output"]


def test_kill_9_keeps_every_completed_call(program: Path, tmp_path: Path) -> None:
    db = tmp_path / "crash.db"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, str(program), "steps", str(db), "100000", "0"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    assert proc.stdout is not None
    run_id = json.loads(proc.stdout.readline())["id"]
    reported: dict[int, int] = {}
    for line in proc.stdout:
        msg = json.loads(line)
        reported[msg["done"]] = msg["out"]
        if len(reported) >= 300:
            break
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    proc.stdout.close()
    assert proc.stderr is not None
    proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL

    with Store(db) as store:
        assert store.db.query("PRAGMA integrity_check") == [("ok",)]
        run = Run.load(store, run_id)
        assert run.status == "running"  # it never closed
        outputs = {c.inputs["args"][0]: c.output for c in run.calls}
        assert len(outputs) >= len(reported)
        for i, out in reported.items():
            assert outputs[i] == out
        assert sorted(outputs) == list(range(len(outputs)))  # no holes: calls complete in order

        # The killed run is a replay source: completed calls come back without running.
        import trace_opt as trace

        @trace.bundle()
        def step(i):
            raise AssertionError("recorded steps must not run again")

        def rest() -> list[int]:
            return [step(i).data for i in range(len(outputs))]

        again = run.replay(rest)
        assert again.output == [outputs[i] for i in range(len(outputs))]


def test_two_processes_record_into_one_store(program: Path, tmp_path: Path) -> None:
    db = tmp_path / "both.db"
    Store(db).close()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [
        subprocess.Popen([sys.executable, str(program), "steps", str(db), "200", "0"], env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]  # fmt: skip
    ids = []
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
        ids.append(json.loads(out.splitlines()[0])["id"])
    with Store(db) as store:
        for run_id in ids:
            run = Run.load(store, run_id)
            assert run.status == "finished" and len(run) == 200
            assert [c.output for c in run.calls] == [i * i for i in range(200)]
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM calls").fetchone()[0] == 400
    conn.close()
