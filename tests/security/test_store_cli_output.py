"""Terminal escape codes in recorded data never reach the user's terminal through ``trace-opt``."""

from __future__ import annotations

from pathlib import Path

import pytest

import trace_opt as trace
from trace_opt.cli import main
from trace_opt.replay import record
from trace_opt.store import Store

# clear screen, set the window title, move the cursor, carriage return, bidi override, C1 CSI
HOSTILE = "ok\x1b[2J\x1b]0;pwned\x07\x1b[1;1H\rover\u202eevil\x9b31m\x7f"
RAW = ["\x1b", "\x07", "\r", "\u202e", "\x9b", "\x7f"]


@trace.bundle()
def echo(text: str) -> str:
    return text


@pytest.fixture
def hostile_store(tmp_path: Path) -> Path:
    path = tmp_path / "store.db"
    store = Store(path)
    with record(store) as run:
        run.meta["name"] = f"run {HOSTILE}"
        echo(HOSTILE)
        try:
            trace.bundle()(lambda: (_ for _ in ()).throw(ValueError(HOSTILE)))()
        except trace.ExecutionError:
            pass
    prompt = trace.node("Be brief.", trainable=True, name="prompt")
    store.commit_parameters({"prompt": prompt}, f"initial {HOSTILE}", name="agent")
    prompt._set(f"Be {HOSTILE}")
    store.commit_parameters({"prompt": prompt}, f"step {HOSTILE}", name="agent")
    store.close()
    return path


@pytest.mark.parametrize(
    "argv",
    [["runs"], ["runs", "--json"], ["show", "latest"], ["show", "latest", "--json"], ["history", "--diff"],
     ["history", "--json"], ["show", "zz\x1b[2Jzz"]],
    ids=lambda a: " ".join(x for x in a if x.isprintable()),
)  # fmt: skip
def test_cli_output_escapes_control_characters(hostile_store: Path, capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    main([*argv[:1], "--store", str(hostile_store), *argv[1:]])
    out, err = capsys.readouterr()
    assert out or err
    for char in RAW:
        assert char not in out and char not in err, f"{char!r} reached the terminal"
    if argv == ["show", "latest"]:
        assert "\\x1b[2J" in out  # shown, escaped, not dropped
