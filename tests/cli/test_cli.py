"""``trace-opt``: every subcommand in-process (``main([...])``), bad input as one line and a
non-zero exit, and the installed entry points once through ``subprocess``."""

from __future__ import annotations

import doctest
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import trace_opt as trace
import trace_opt.cli as cli_pkg
from trace_opt.cli import main, output, stores
from trace_opt.llm import Cache, FunctionLLM, use_cache
from trace_opt.replay import record
from trace_opt.store import Store

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import toy_program  # noqa: E402

PROGRAM = f"{HERE / 'toy_program.py'}:roll_sum"


@pytest.fixture()
def runs(tmp_path: Path) -> Path:
    """``runs/r1/store.db`` with one recorded run (roll_sum(3): 4 calls) and a parameter history."""
    folder = tmp_path / "runs" / "r1"
    folder.mkdir(parents=True)
    store = Store(folder / "store.db")
    with record(store) as run:
        run.meta["name"] = "three rolls"
        toy_program.roll_sum(3)
    prompt = trace.node("Be brief.", trainable=True, name="prompt")
    store.commit_parameters({"prompt": prompt}, "initial", name="agent")
    prompt._set("Be brief and kind.")
    store.commit_parameters({"prompt": prompt}, "step 1: kinder", name="agent")
    store.close()
    return tmp_path / "runs"


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def one_error_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("trace-opt: error: "), err
    assert "Traceback" not in err
    return lines[0]


@pytest.mark.parametrize("module", [cli_pkg, output])
def test_doctests(module: object) -> None:
    assert doctest.testmod(module).failed == 0  # type: ignore[arg-type]


def test_runs_lists_recorded_runs(runs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "runs", "--store", str(runs))
    assert code == 0 and "three rolls" in out and "finished" in out and out.splitlines()[0].startswith("run")
    code, out, _ = run_cli(capsys, "runs", "--store", str(runs / "r1" / "store.db"), "--json")
    (item,) = json.loads(out)
    assert code == 0 and item["calls"] == 4 and item["status"] == "finished" and len(item["id"]) == 32


def test_store_defaults_to_env_then_runs(runs: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(runs.parent)
    assert run_cli(capsys, "runs")[0] == 0
    monkeypatch.setenv("TRACE_OPT_STORE", str(runs / "nope"))
    code, _, err = run_cli(capsys, "runs")
    assert code == 1 and "no store at" in one_error_line(err)


def test_show_prints_the_call_tree(runs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "show", "latest", "--store", str(runs), "--timing")
    assert code == 0 and "->roll_sum(3) = " in out and out.count("->roll() = ") == 3 and " ms)" in out
    run_id = out.split()[1]
    code, out, _ = run_cli(capsys, "show", run_id[:6], "--store", str(runs), "--json")
    data = json.loads(out)
    assert data["id"] == run_id and [c["name"] for c in data["calls"]] == ["roll_sum", "roll", "roll", "roll"]
    assert data["calls"][0]["inputs"] == {"args": [3], "kwargs": {}}
    assert data["calls"][0]["output"] == sum(c["output"] for c in data["calls"][1:])


@pytest.mark.parametrize("argv, message", [
    (["show", "ffff"], "no run starting with 'ffff'"),
    (["show", "ab"], "give at least 4 characters"),
    (["graph", "latest", "-o", "x.txt"], "Invalid format: 'txt'"),
    (["replay", "latest"], "needs the program"),
    (["replay", "latest", "--from", "9", "--program", PROGRAM], "Invalid --from: 9"),
    (["replay", "latest", "--program", "nofile.py:f"], "no file nofile.py"),
    (["replay", "latest", "--program", f"{HERE / 'toy_program.py'}:nope"], "has no 'nope'"),
    (["replay", "latest", "--program", "roll_sum"], "write FILE.py:NAME"),
])  # fmt: skip
def test_bad_input_is_one_line_and_exit_1(runs: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str) -> None:
    code, out, err = run_cli(capsys, *argv, "--store", str(runs))
    assert code == 1 and out == "" and message in one_error_line(err)


@pytest.mark.parametrize("argv", [["bogus"], ["show"], ["runs", "--limit", "0"], ["runs", "--limit", "x"],
                                  ["cache", "purge"], ["graph", "latest", "--format", "jpg"]])  # fmt: skip
def test_bad_usage_is_one_line_and_exit_2(capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    code, _, err = run_cli(capsys, *argv)
    assert code == 2 and "--help" in one_error_line(err)


def test_help_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "--help")
    assert code == 0 and "trace-opt replay" in out and "examples:" in out
    code, out, _ = run_cli(capsys, "replay", "--help")
    assert code == 0 and "--from N" in out and "--program" in out
    assert run_cli(capsys)[0] == 0


def test_graph_writes_dot_and_pictures(runs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "graph", "latest", "--store", str(runs))
    assert code == 0 and out.startswith("digraph run {")
    target = tmp_path / "g.dot"
    assert run_cli(capsys, "graph", "latest", "--store", str(runs), "-o", str(target))[0] == 0
    assert target.read_text().startswith("digraph")
    if shutil.which("dot"):
        svg = tmp_path / "g.svg"
        code, out, _ = run_cli(capsys, "graph", "latest", "--store", str(runs), "-o", str(svg))
        assert code == 0 and f"wrote {svg}" in out and "<svg" in svg.read_text()


def test_graph_without_dot_says_how_to_install_it(runs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    monkeypatch.setenv("PATH", "/nonexistent")
    code, _, err = run_cli(capsys, "graph", "latest", "--store", str(runs), "-o", str(tmp_path / "g.png"))
    assert code == 1 and "apt-get install graphviz" in one_error_line(err)


def test_history_lists_versions_and_diffs(runs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "history", "--store", str(runs), "--diff")
    assert code == 0 and "branch agent  (2 versions)" in out and "step 1: kinder" in out
    assert "-Be brief." in out and "+Be brief and kind." in out
    code, out, _ = run_cli(capsys, "history", "agent", "--store", str(runs), "--json", "--limit", "1")
    (group,) = json.loads(out)
    assert [v["values"] for v in group["versions"]] == [{"prompt": "Be brief and kind."}]
    code, out, _ = run_cli(capsys, "history", "other", "--store", str(runs))
    assert code == 0 and "no parameter history" in out


def test_replay_from_a_call(runs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run_cli(capsys, "show", "latest", "--store", str(runs), "--json")
    recorded = [c["output"] for c in json.loads(out)["calls"]]
    code, out, _ = run_cli(capsys, "replay", "latest", "--from", "3", "--program", PROGRAM, "--store", str(runs), "--json")
    new = json.loads(out)
    assert code == 0 and new["from"] == 3 and new["replayed"] == 2 and new["ran"] == 2
    assert [c["output"] for c in new["calls"][1:3]] == recorded[1:3]
    code, out, _ = run_cli(capsys, "runs", "--store", str(runs))
    assert "replay of" in out and len(out.strip().splitlines()) == 3
    code, out, _ = run_cli(capsys, "replay", new["id"][:8], "--from", "-1", "--program", PROGRAM, "--store", str(runs))
    assert code == 0 and "2 calls came from the record, 2 ran afresh" in out and "[replayed]" in out


def test_cache_stats_and_clear(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "cache"
    with use_cache(Cache(folder)) as cache:
        llm = FunctionLLM(lambda m, **kw: "ok", name="echo")
        for q in ("a", "b", "c"):
            llm.complete(q)
        assert cache is not None
        cache.close()
    code, out, _ = run_cli(capsys, "cache", "stats", "--cache-dir", str(folder), "--json")
    stats = json.loads(out)
    assert code == 0 and stats["entries"] == 3 and stats["models"] == {"function:echo": 3} and stats["bytes"] > 0
    code, out, _ = run_cli(capsys, "cache", "stats", "--cache-dir", str(folder))
    assert code == 0 and "3 responses" in out
    code, out, _ = run_cli(capsys, "cache", "clear", "--cache-dir", str(folder))
    assert code == 0 and "removed 3 cached responses" in out
    assert json.loads(run_cli(capsys, "cache", "stats", "--cache-dir", str(folder), "--json")[1])["entries"] == 0
    code, _, err = run_cli(capsys, "cache", "stats", "--cache-dir", str(tmp_path / "none"))
    assert code == 1 and "no LLM cache at" in one_error_line(err)


def test_a_file_that_is_not_a_store_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "store.db"
    bad.write_bytes(b"not sqlite at all" * 100)
    code, _, err = run_cli(capsys, "runs", "--store", str(bad))
    assert code == 1
    one_error_line(err)


def test_find_run_needs_runs(tmp_path: Path) -> None:
    store = Store(tmp_path / "store.db")
    with pytest.raises(trace.TraceOptError, match="no recorded runs"):
        stores.find_run([store], "latest")
    store.close()


def test_entry_points_in_a_subprocess(runs: Path) -> None:
    exe = shutil.which("trace-opt")
    commands = [[sys.executable, "-m", "trace_opt.cli"]] + ([[exe]] if exe else [])
    for command in commands:
        res = subprocess.run([*command, "runs", "--store", str(runs), "--json"], capture_output=True, text=True, timeout=120)
        assert res.returncode == 0, res.stderr
        assert json.loads(res.stdout)[0]["name"] == "three rolls"
        res = subprocess.run([*command, "show", "zzzz", "--store", str(runs)], capture_output=True, text=True, timeout=120)
        assert res.returncode == 1 and res.stdout == ""
        assert res.stderr.strip() == "trace-opt: error: no run starting with 'zzzz' (help: `trace-opt runs` lists the runs and their ids)"
