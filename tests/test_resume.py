"""A training process killed with SIGKILL restarts at its last completed step and pays for
no call that was already answered."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

SCRIPT = textwrap.dedent(
    '''
    import hashlib, json, re, sys, time
    import trace_opt as trace
    from optimizers import OptoPrime, train
    from trace_opt.llm import Cache, FunctionLLM, use_cache

    workdir, delay = sys.argv[1], float(sys.argv[2])

    def model(messages, **params):
        prompt = "\\n".join(m["content"] for m in messages)
        key = hashlib.sha256(prompt.encode()).hexdigest()[:16]
        with open(f"{workdir}/calls.log", "a") as f:
            f.write(f"start {key}\\n")
        time.sleep(delay)
        name, value = re.search(r"^\\(float\\) (x_\\d+) = (\\S+)$", prompt, re.M).groups()
        step = 1.0 if "increase" in prompt.split("#Feedback")[-1] else -1.0
        with open(f"{workdir}/calls.log", "a") as f:
            f.write(f"end {key}\\n")
        return json.dumps({"reasoning": "", "suggestion": {name: float(value) + step}})

    def judge(_i, y, _info):
        return -abs(y - 5.0), ("increase" if y < 5 else "decrease") + " x"

    @trace.model
    class Agent:
        def __init__(self):
            self.x = trace.node(0.0, trainable=True, name="x")
        def __call__(self, _):
            return self.x * 1.0

    agent = Agent()
    with use_cache(Cache(f"{workdir}/cache")):
        log = train(agent, [(i, None) for i in range(12)], judge, OptoPrime(agent.parameters(), llm=FunctionLLM(model, name="m")),
                    batch_size=2, epochs=1, progress=f"{workdir}/progress.json", trainer="step", restore_best=False)
    print(json.dumps({"x": agent.x.data, "steps": [r["step"] for r in log]}))
    '''
)


def run(workdir: Path, delay: float) -> subprocess.Popen[str]:
    script = workdir / "train.py"
    script.write_text(SCRIPT)
    return subprocess.Popen([sys.executable, str(script), str(workdir), str(delay)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=Path(__file__).resolve().parents[1])  # fmt: skip


def steps_done(workdir: Path) -> int:
    import json

    try:
        return int(json.loads((workdir / "progress.json").read_text())["step"])
    except (OSError, ValueError, KeyError):
        return 0


@pytest.mark.slow
def test_sigkill_mid_training_resumes_without_repeated_calls(tmp_path: Path) -> None:
    reference = tmp_path / "reference"
    reference.mkdir()
    done = run(reference, 0.0)
    out, err = done.communicate(timeout=300)
    assert done.returncode == 0, err
    expected = out.strip().splitlines()[-1]

    work = tmp_path / "work"
    work.mkdir()
    proc = run(work, 0.15)
    deadline = time.time() + 240
    while steps_done(work) < 2 and proc.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    assert proc.poll() is None, "the first run must still be running when it is killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=30)
    killed_at = steps_done(work)
    assert 2 <= killed_at < 6
    first = (work / "calls.log").read_text().split()
    answered = {first[i + 1] for i in range(0, len(first), 2) if first[i] == "end"}

    (work / "calls.log").unlink()
    again = run(work, 0.0)
    out, err = again.communicate(timeout=300)
    assert again.returncode == 0, err
    assert out.strip().splitlines()[-1] == expected  # same final parameters and steps as a run never killed
    second = (work / "calls.log").read_text().split()
    asked_again = {second[i + 1] for i in range(0, len(second), 2) if second[i] == "start"}
    assert not asked_again & answered, "a call answered before the kill was paid for again"
    assert asked_again, "the resumed run had steps left to make"
