"""Progress bars: tqdm on stderr, one style for train and the search trainers, a widget in
Jupyter when ipywidgets is there and a silent fallback to the text bar when it is not."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from opt_helpers import read_variables

import trace_opt as trace
from optimizers import BeamSearch, OptoPrime, train
from trace_opt.llm import FunctionLLM

ROOT = Path(__file__).resolve().parents[2]
DATA = [(x, 3 * x) for x in range(1, 5)]


class Scaler(trace.Module):
    def __init__(self) -> None:
        self.k = trace.node(1, trainable=True, name="k")

    def __call__(self, x: int) -> Any:
        return self.k * x


def exact(x: Any, y: Any, want: Any) -> tuple[float, str]:
    return float(y == want), "correct" if y == want else f"got {y}, expected {want}"


def suggest(values: list[int]) -> FunctionLLM:
    it = iter(values * 10)

    def fn(messages: list[dict[str, Any]], **kw: Any) -> str:
        name = next(iter(read_variables(messages[-1]["content"])))
        return json.dumps({"reasoning": "", "suggestion": {name: next(it)}})

    return FunctionLLM(fn)


def test_train_draws_its_bar_on_stderr_and_nowhere_else(capsys: pytest.CaptureFixture[str],
                                                       caplog: pytest.LogCaptureFixture) -> None:  # fmt: skip
    caplog.set_level(logging.DEBUG)
    model = Scaler()
    log = train(model, DATA, exact, OptoPrime(model.parameters(), llm=suggest([2, 3])), batch_size=2,
                valset=DATA[:2], verbose=True)  # fmt: skip
    out, err = capsys.readouterr()
    final = err.split("\r")[-1]
    assert final.startswith("train: 100%|") and "| 2/2 [" in final and "best 1.000" in final, err
    assert out == ""
    assert not [r for r in caplog.records if "%|" in r.getMessage()]  # the bar is not a log line
    assert "%|" not in str(log) and all("%|" not in repr(r) for r in log)


def test_without_verbose_nothing_is_drawn_and_tqdm_is_not_imported() -> None:
    code = textwrap.dedent("""
        import sys, test_opt_bars as t
        from optimizers import OptoPrime, train
        model = t.Scaler()
        train(model, t.DATA, t.exact, OptoPrime(model.parameters(), llm=t.suggest([3])), batch_size=2)
        print("tqdm" in sys.modules)
    """)
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT,
                         env=_env())  # fmt: skip
    assert res.returncode == 0, res.stderr[-2000:]
    assert res.stdout.strip() == "False" and res.stderr == ""


def test_search_trainers_draw_the_same_bar(capsys: pytest.CaptureFixture[str]) -> None:
    model = Scaler()
    BeamSearch(k=2, beam_width=1).train(model, DATA, exact, OptoPrime(model.parameters(), llm=suggest([3, 2])),
                                        steps=2, batch_size=2, verbose=True)  # fmt: skip
    out, err = capsys.readouterr()
    final = err.split("\r")[-1]
    assert final.startswith("BeamSearch: ") and "/2 [" in final and "step/s" in final and "best " in final, err
    assert out == ""


FAKE_KERNEL = '''
import sys, types
from types import SimpleNamespace

shown = []
sys.modules["ipykernel"] = types.ModuleType("ipykernel")
sys.modules["ipykernel.zmqshell"] = types.ModuleType("ipykernel.zmqshell")
ipython = types.ModuleType("IPython")
ipython.get_ipython = type("ZMQInteractiveShell", (), {})
sys.modules["IPython"] = ipython
if WIDGETS:
    display = types.ModuleType("IPython.display")
    display.display = shown.append
    sys.modules["IPython.display"] = ipython.display = display
    widgets = types.ModuleType("ipywidgets")

    class Widget:
        def __init__(self, **kw):
            self.__dict__.update(kw, layout=SimpleNamespace(), style=SimpleNamespace(), value=None, bar_style="")

        def close(self):
            pass

    widgets.FloatProgress, widgets.HTML, widgets.HBox = (type(n, (Widget,), {}) for n in ("FloatProgress", "HTML", "HBox"))
    sys.modules["ipywidgets"] = widgets

from optimizers.bars import StepBar
bar = StepBar("train", 2, enabled=True)
bar.step({"step": 1, "score": 0.5})
bar.step({"step": 2, "score": 0.75})
bar.close()
print(len(shown), shown[0].children[1].value if shown else None)
'''


def _env() -> dict[str, str]:
    import os

    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "tests" / "optimizers")])}


@pytest.mark.parametrize("widgets", [False, True])
def test_in_jupyter_a_widget_with_ipywidgets_else_the_text_bar_without_a_warning(widgets: bool) -> None:
    """A kernel is faked the way tqdm.autonotebook detects one; ``-W error`` turns tqdm's
    "IProgress not found" warning into a failure."""
    res = subprocess.run([sys.executable, "-W", "error", "-c", f"WIDGETS = {widgets}\n{FAKE_KERNEL}"],
                         capture_output=True, text=True, timeout=60, cwd=ROOT, env=_env())  # fmt: skip
    assert res.returncode == 0, res.stderr[-2000:]
    if widgets:  # displayed as a widget, filled to the total; no text anywhere
        assert res.stdout.split() == ["1", "2"] and res.stderr == ""
    else:
        assert res.stdout.split() == ["0", "None"]
        last = [line for line in res.stderr.splitlines() if line.strip()][-1]  # \r read as \n
        assert last.startswith("train: 100%|") and "score 0.750" in last


def _on_a_terminal(code: str) -> tuple[str, str]:
    """Run ``code`` with stderr on a fresh pseudo-terminal (0 x 0: nobody sized it); return
    what reached the terminal and stdout."""
    import os
    import pty

    master, slave = pty.openpty()
    assert os.get_terminal_size(slave).columns == 0
    try:
        res = subprocess.run([sys.executable, "-c", code], stderr=slave, stdout=subprocess.PIPE, text=True, timeout=120,
                             cwd=ROOT, env=_env())  # fmt: skip
    finally:
        os.close(slave)
    chunks = []
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the other side is closed and everything was read
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(master)
    terminal = b"".join(chunks).decode("utf-8", "replace")
    assert res.returncode == 0, terminal[-2000:]
    return terminal, res.stdout


def test_on_a_terminal_that_reports_no_size_the_bar_is_still_drawn() -> None:
    """As under ``script`` or some CI runners: tqdm alone would draw empty lines there."""
    terminal, _ = _on_a_terminal("from optimizers.bars import StepBar\n"
                                 "with StepBar('train', 2, enabled=True) as b:\n    b.step({'step': 2, 'best': 1.0})")  # fmt: skip
    assert "train: 100%|" in terminal and "| 2/2 [" in terminal and "best 1.000" in terminal, terminal


def test_the_demo_draws_the_same_bar_on_a_terminal_and_its_table_on_stdout(tmp_path: Path) -> None:
    code = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(ROOT / "tests")!r})
        from test_demo import load_demo, scripted
        from trace_opt.llm import FunctionLLM
        load_demo().main(["--runs", {str(tmp_path)!r}, "--run-id", "r1", "--steps", "3", "--k", "3"],
                         llm=FunctionLLM(scripted, name="bar"))
    """)
    terminal, out = _on_a_terminal(code)
    bars = [line for line in terminal.replace("\r", "\n").splitlines() if line.startswith("train: ")]
    assert bars and "| 1/3 [" in bars[-1] and "best 1.000" in bars[-1] and "calls " in bars[-1], terminal[-2000:]
    assert "train: " not in out and "%|" not in out  # the bar stays off stdout and the files it writes
    assert "%|" not in (tmp_path / "r1" / "steps.txt").read_text()
    assert any(line.startswith("1     1.000") for line in out.splitlines())  # the step table, on stdout
