"""Ctrl-C stops training cleanly: one line on what was saved and how to resume, exit code 130.

A KeyboardInterrupt is raised from inside the model call, where Ctrl-C lands in a real run
(the embedded model spends its time there).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import trace_opt as trace
from optimizers import OptoPrime, train
from trace_opt.errors import TrainingInterrupted
from trace_opt.llm import FunctionLLM

from test_demo import load_demo, scripted  # tests/ is on sys.path (rootdir conftest)

ROOT = Path(__file__).resolve().parents[1]


class CtrlC:
    """A model that answers like ``answer`` for ``calls`` calls, then raises KeyboardInterrupt."""

    def __init__(self, calls: int, answer: Any) -> None:
        self.left, self.answer = calls, answer

    def __call__(self, messages: list[dict[str, Any]], **params: Any) -> str:
        if self.left == 0:
            raise KeyboardInterrupt
        self.left -= 1
        return str(self.answer(messages, **params))


def _propose(messages: list[dict[str, Any]], **params: Any) -> str:
    name = re.search(r"^\(int\) (\w+) = ", messages[-1]["content"], re.M).group(1)  # type: ignore[union-attr]
    return json.dumps({"reasoning": "", "suggestion": {name: 3}})


def _train(tmp_path: Path, progress: Path | None) -> TrainingInterrupted:
    k = trace.node(1, trainable=True, name="k")
    llm = FunctionLLM(CtrlC(2, _propose), name=f"ctrl-c-{tmp_path.name}")  # its own cache entries
    with pytest.raises(TrainingInterrupted) as info:
        train(lambda x: x * k, [(i, 3 * i) for i in range(1, 9)], lambda x, y, want: float(y == want),
              OptoPrime([k], llm=llm), batch_size=2, trainer="step", progress=progress)  # fmt: skip
    return info.value


def test_ctrl_c_in_train_says_what_was_saved_and_how_to_resume(tmp_path: Path) -> None:
    progress = tmp_path / "progress.json"
    err = _train(tmp_path, progress)
    assert isinstance(err, KeyboardInterrupt)  # no `except Exception` swallows it
    message = str(err)
    assert len(message.splitlines()) == 1, message
    assert "step 3" in message and str(progress) in message and "resume" in message
    assert [r["step"] for r in err.log] == [1, 2]
    assert json.loads(progress.read_text())["step"] == 2  # what the message promises is on disk
    assert err.__suppress_context__  # no chained 60-line traceback from inside the model call


def test_ctrl_c_without_a_progress_file_says_nothing_was_saved(tmp_path: Path) -> None:
    message = str(_train(tmp_path, None))
    assert "nothing was saved" in message and "progress=" in message


def test_ctrl_c_in_the_demo_is_one_line_and_exit_code_130(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    demo = load_demo()
    llm = FunctionLLM(CtrlC(7, scripted), name="demo-script")
    code = demo.cli(["--runs", str(tmp_path / "runs"), "--run-id", "r1", "--steps", "2", "--k", "2"], llm=llm)
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 130
    assert len(err) == 1 and err[0].startswith("demo: interrupted"), err
    assert str(tmp_path / "runs" / "r1") in err[0] and "cache" in err[0] and "python examples/demo.py" in err[0]


def test_ctrl_c_in_a_real_process_exits_130_without_a_traceback(tmp_path: Path) -> None:
    """SIGINT to the process (what Ctrl-C sends), while the model is answering."""
    script = (
        "import os, signal, sys, time\n"
        f"sys.path.insert(0, {str(ROOT / 'examples')!r}); sys.path.insert(0, {str(ROOT / 'tests')!r})\n"
        # the repository first: tests/optimizers/ would otherwise shadow the package as a namespace
        f"sys.path.insert(0, {str(ROOT)!r})\n"
        "import demo\n"
        "from trace_opt.llm import FunctionLLM\n"
        "from test_demo import scripted\n"
        "calls = []\n"
        "def model(messages, **kw):\n"
        "    calls.append(1)\n"
        "    if len(calls) == 6:\n"
        "        os.kill(os.getpid(), signal.SIGINT); time.sleep(5)\n"
        "    return scripted(messages, **kw)\n"
        f"sys.exit(demo.cli(['--runs', {str(tmp_path / 'runs')!r}, '--steps', '2', '--k', '2'],"
        " llm=FunctionLLM(model, name='m')))\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert proc.returncode == 130, proc.stderr
    assert "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
