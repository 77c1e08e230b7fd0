"""trace_opt.sqlite: which errors are "locked", and the bounded retry the cache and store share."""

from __future__ import annotations

import doctest
import sqlite3
import time
from pathlib import Path

import pytest

import trace_opt.sqlite
from trace_opt.sqlite import connect, is_busy, is_corrupt, retry_busy


def test_docstring_examples() -> None:
    assert doctest.testmod(trace_opt.sqlite).failed == 0


def _locked_error(tmp_path: Path) -> sqlite3.OperationalError:
    path = tmp_path / "x.db"
    a = connect(path, busy_timeout=0.01, budget=0.01)
    a.execute("CREATE TABLE t(x)")
    a.execute("BEGIN IMMEDIATE")
    b = connect(path, busy_timeout=0.01, budget=0.01)
    try:
        b.execute("INSERT INTO t VALUES (1)")
    except sqlite3.OperationalError as exc:
        return exc
    finally:
        a.execute("ROLLBACK")
        a.close()
        b.close()
    raise AssertionError("the second writer was not locked out")


def test_classifies_real_sqlite_errors(tmp_path: Path) -> None:
    locked = _locked_error(tmp_path)
    assert is_busy(locked) and not is_corrupt(locked)
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not a database" * 100)
    with pytest.raises(sqlite3.DatabaseError) as info:
        connect(junk, busy_timeout=0.01, budget=0.01)
    assert is_corrupt(info.value) and not is_busy(info.value)
    assert not is_busy(sqlite3.OperationalError("no such table: t"))


def test_retries_while_locked_then_succeeds(tmp_path: Path) -> None:
    locked = _locked_error(tmp_path)
    attempts = []

    def flaky() -> str:
        attempts.append(time.monotonic())
        if len(attempts) < 4:
            raise locked
        return "done"

    assert retry_busy(flaky, budget=5.0) == "done" and len(attempts) == 4
    pauses = [b - a for a, b in zip(attempts, attempts[1:])]
    assert all(p > 0 for p in pauses)


def test_gives_up_after_the_budget_and_never_retries_other_errors(tmp_path: Path) -> None:
    locked = _locked_error(tmp_path)
    calls = []

    def always_locked() -> None:
        calls.append(1)
        raise locked

    start = time.monotonic()
    with pytest.raises(sqlite3.OperationalError):
        retry_busy(always_locked, budget=0.3)
    assert time.monotonic() - start < 0.6 and len(calls) > 3

    calls.clear()

    def broken() -> None:
        calls.append(1)
        raise sqlite3.OperationalError("no such table: t")

    with pytest.raises(sqlite3.OperationalError, match="no such table"):
        retry_busy(broken, budget=5.0)
    assert calls == [1]
