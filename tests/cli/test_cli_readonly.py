"""Read-only commands never write; ``cache clear`` clears even a corrupt cache; ``--version``."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import pytest

import trace_opt as trace
from trace_opt.cli import main
from trace_opt.llm import Cache
from trace_opt.replay import record
from trace_opt.store import Store


def _digest(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` (side files included) and its content hash."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}  # fmt: skip


@pytest.fixture()
def store_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "runs" / "r1"
    folder.mkdir(parents=True)
    store = Store(folder / "store.db")
    with record(store):
        trace.bundle()(lambda x: x + 1)(1)
    x = trace.node("v1", trainable=True, name="x")
    store.commit_parameters({"x": x}, "initial", name="agent")
    store.close()
    for side in folder.glob("store.db-*"):  # a cleanly closed store: the WAL is checkpointed
        side.unlink()
    return tmp_path / "runs"


@pytest.mark.parametrize("argv", [["runs"], ["runs", "--json"], ["show", "latest"], ["history"], ["history", "--diff"],
                                  ["graph", "latest"]])  # fmt: skip
def test_read_only_commands_change_no_file(store_folder: Path, argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    before = _digest(store_folder)
    assert main([*argv, "--store", str(store_folder)]) == 0, capsys.readouterr().err
    assert _digest(store_folder) == before


def test_runs_on_an_empty_file_writes_no_schema(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    empty = tmp_path / "empty.db"
    empty.touch()
    code = main(["runs", "--store", str(empty)])
    err = capsys.readouterr().err
    assert code == 1 and "not a trace_opt store" in err
    assert empty.read_bytes() == b"" and sorted(p.name for p in tmp_path.iterdir()) == ["empty.db"]


def test_cache_stats_changes_no_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cache = Cache(tmp_path / "cache")
    cache.close()
    for side in (tmp_path / "cache").glob("*-*"):
        side.unlink()
    before = _digest(tmp_path)
    assert main(["cache", "stats", "--cache-dir", str(tmp_path / "cache")]) == 0
    assert "0 responses" in capsys.readouterr().out
    assert _digest(tmp_path) == before


def test_cache_clear_replaces_a_corrupt_cache(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "cache"
    folder.mkdir()
    (folder / "llm_cache.sqlite").write_bytes(b"this is not a database" * 100)
    assert main(["cache", "stats", "--cache-dir", str(folder)]) == 1  # stats reports it ...
    assert "corrupt" in capsys.readouterr().err
    assert main(["cache", "clear", "--cache-dir", str(folder)]) == 0  # ... clear fixes it
    assert "corrupt" in capsys.readouterr().out
    with sqlite3.connect(folder / "llm_cache.sqlite") as db:  # a working, empty cache again
        assert db.execute("SELECT COUNT(*) FROM responses").fetchone() == (0,)
    assert len(Cache(folder)) == 0


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    from importlib.metadata import version

    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"trace-opt {version('trace-opt-lib')}"


def test_a_store_in_use_is_read_live(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """While a training process holds the store open (its -wal file exists), `runs` sees its runs."""
    store = Store(tmp_path / "store.db")
    try:
        with record(store) as run:
            trace.bundle()(lambda x: x * 2)(3)
        assert Path(f"{tmp_path / 'store.db'}-wal").exists()
        assert main(["runs", "--store", str(tmp_path / "store.db"), "--json"]) == 0
        assert run.id in capsys.readouterr().out
    finally:
        store.close()
