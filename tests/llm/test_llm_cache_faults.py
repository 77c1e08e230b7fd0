"""A cache that cannot be used right now is a miss or a skipped write, logged once at WARNING:
never an exception in the call it serves (issue 21). Damaged files, damaged rows, unwritable
directories, locks held by another process."""

from __future__ import annotations

import doctest
import json
import logging
import os
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from trace_opt.errors import StoreError
from trace_opt.llm import Cache, FunctionLLM, use_cache
from trace_opt.llm import cache as cache_module

LOGGER = "trace_opt.llm.cache"


def test_docstring_examples() -> None:
    assert doctest.testmod(cache_module).failed == 0


def _counting() -> tuple[FunctionLLM, list[str]]:
    asked: list[str] = []

    def fn(messages: list[dict[str, Any]], **params: Any) -> str:
        asked.append(messages[-1]["content"])
        return "answer to " + messages[-1]["content"]

    return FunctionLLM(fn, name="faults"), asked


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == LOGGER and r.levelno >= logging.WARNING]


def _filled(folder: Path, prompts: list[str]) -> Path:
    llm, _ = _counting()
    with use_cache(Cache(folder)) as cache:
        assert cache is not None
        for p in prompts:
            llm.complete(p)
        cache.close()
    return folder / "llm_cache.sqlite"


def test_a_file_that_is_not_a_database_is_a_miss(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "llm_cache.sqlite"
    garbage = b"this is not SQLite at all\n" * 100
    path.write_bytes(garbage)
    llm, asked = _counting()
    with caplog.at_level(logging.DEBUG, LOGGER), use_cache(Cache(tmp_path)) as cache:
        assert cache is not None
        answers = [llm.complete(p).text for p in ("a", "b", "a", "b")]
        assert "not a database" in (cache.problem or "")
    assert answers == ["answer to a", "answer to b"] * 2
    assert asked == ["a", "b"]  # the memory LRU still answers repeats
    assert len(_warnings(caplog)) == 1 and "not a database" in _warnings(caplog)[0]
    assert path.read_bytes() == garbage  # a lookup never deletes the user's file
    cache.clear()  # an explicit clear replaces it with an empty cache that works
    assert cache.problem is None and len(cache) == 0
    with use_cache(cache):
        llm.complete("c")
    assert [r["request"]["messages"][-1]["content"] for r in cache.records()] == ["c"]
    cache.close()


def test_damaged_pages_are_misses_and_clear_replaces_the_file(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = _filled(tmp_path, [f"q{i} " + "x" * 2000 for i in range(20)])
    data = bytearray(path.read_bytes())
    page = int.from_bytes(data[16:18], "big")
    data[page:] = b"\xff" * (len(data) - page)  # keep the header page, wreck the rest
    path.write_bytes(bytes(data))
    llm, asked = _counting()
    with caplog.at_level(logging.DEBUG, LOGGER):
        cache = Cache(tmp_path)
        with use_cache(cache):
            assert llm.complete("q1 " + "x" * 2000).text.startswith("answer to q1")
            assert llm.complete("q2 " + "x" * 2000).text.startswith("answer to q2")
    assert len(asked) == 2
    warned = _warnings(caplog)  # one per kind of trouble, not one per call
    assert len(warned) == 2 and "counts as a miss" in warned[0] and "write was skipped" in warned[1], warned
    cache.clear()
    assert len(cache) == 0
    cache.close()


def test_damaged_rows_are_misses_then_overwritten(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = _filled(tmp_path, ["a", "b", "c"])
    with sqlite3.connect(path) as db:
        rows = {json.loads(req)["messages"][-1]["content"]: key for key, req in db.execute("SELECT key, request FROM responses")}
        db.execute("UPDATE responses SET response = '{not json' WHERE key = ?", (rows["a"],))
        db.execute("UPDATE responses SET response = '{\"no_text\": 1}' WHERE key = ?", (rows["b"],))
    db.close()
    llm, asked = _counting()
    with caplog.at_level(logging.DEBUG, LOGGER), use_cache(Cache(tmp_path)) as cache:
        assert cache is not None
        assert [llm.complete(p).text for p in ("a", "b", "c")] == ["answer to a", "answer to b", "answer to c"]
        cache.close()
    assert asked == ["a", "b"]  # "c" was intact: a hit
    assert len(_warnings(caplog)) == 1 and "unreadable" in _warnings(caplog)[0]
    with use_cache(Cache(tmp_path)) as cache:  # the fresh answers replaced the damaged rows
        assert cache is not None
        assert all(llm.complete(p).cached for p in ("a", "b", "c"))
        cache.close()
    assert asked == ["a", "b"]


def test_unwritable_directory_degrades_to_memory(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("a regular file where the cache directory should be")
    llm, asked = _counting()
    with caplog.at_level(logging.DEBUG, LOGGER):
        cache = Cache(blocker / "cache")
        with use_cache(cache):
            texts = [llm.complete(p).text for p in ("a", "a", "b")]
    assert texts == ["answer to a", "answer to a", "answer to b"] and asked == ["a", "b"]
    assert cache.problem is not None and len(_warnings(caplog)) == 1
    assert "memory only" in _warnings(caplog)[0]
    with pytest.raises(StoreError, match="cannot clear"):
        cache.clear()  # an explicit request on a file it cannot have: that one is told


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root writes to read-only directories")
def test_read_only_directory_degrades_to_memory(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        llm, asked = _counting()
        with caplog.at_level(logging.DEBUG, LOGGER), use_cache(Cache(folder)) as cache:
            assert [llm.complete(p).text for p in ("a", "a")] == ["answer to a"] * 2
    finally:
        folder.chmod(0o755)
    assert asked == ["a"] and len(_warnings(caplog)) == 1


@pytest.fixture
def short_waits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cache_module, "_BUSY_TIMEOUT_S", 0.05)
    monkeypatch.setattr(cache_module, "_RETRY_BUDGET_S", 0.2)


def _hold_exclusive(path: Path) -> sqlite3.Connection:
    """Another process's connection that keeps the file locked against readers and writers
    (possible only while no other connection has the file open)."""
    other = sqlite3.connect(path, isolation_level=None, timeout=5)
    other.execute("PRAGMA locking_mode=EXCLUSIVE")
    other.execute("BEGIN EXCLUSIVE")
    other.execute("DELETE FROM responses WHERE 0")
    return other


@pytest.mark.usefixtures("short_waits")
def test_a_write_locked_file_means_skipped_writes(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = _filled(tmp_path, ["old"])
    llm, asked = _counting()
    cache = Cache(tmp_path, memory_size=0)
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another process in the middle of a long write
    with caplog.at_level(logging.DEBUG, LOGGER), use_cache(cache):
        texts = [llm.complete(p).text for p in ("old", "new", "new")]
    assert texts == ["answer to old", "answer to new", "answer to new"]
    assert asked == ["new", "new"]  # reads still work in WAL mode; the write was skipped twice
    warned = _warnings(caplog)
    assert len(warned) == 1 and "write was skipped" in warned[0], warned
    other.execute("COMMIT")
    other.close()
    with use_cache(cache):  # the lock is gone: writes land again
        llm.complete("new")
        assert llm.complete("new").cached
    assert asked == ["new"] * 3
    cache.close()


@pytest.mark.usefixtures("short_waits")
def test_a_file_locked_while_opening_leaves_the_cache_in_memory(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = _filled(tmp_path, ["old"])
    other = _hold_exclusive(path)
    llm, asked = _counting()
    try:
        with caplog.at_level(logging.DEBUG, LOGGER):
            cache = Cache(tmp_path)
            with use_cache(cache):
                assert [llm.complete(p).text for p in ("x", "x")] == ["answer to x"] * 2
    finally:
        other.execute("COMMIT")
        other.close()
    assert asked == ["x"]
    assert "locked" in (cache.problem or "") and len(_warnings(caplog)) == 1
    cache.clear()  # no longer locked: clear reopens the file and empties it
    assert cache.problem is None and len(cache) == 0
    cache.close()


def test_another_programs_sqlite_file_is_never_modified(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    import hashlib
    import sqlite3

    from trace_opt.errors import StoreError
    from trace_opt.llm import Cache, LLMResponse

    path = tmp_path / "theirs.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL)")
        db.execute("INSERT INTO invoices (total) VALUES (12.5)")
    db.close()
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    cache = Cache(path)
    cache.put("k", LLMResponse("answer"))
    assert cache.get("k").text == "answer"  # served from memory
    assert "another program" in caplog.text
    with pytest.raises(StoreError):
        cache.clear()  # never deletes a file that is not ours
    cache.close()
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before
    assert not Path(f"{path}-wal").exists()
