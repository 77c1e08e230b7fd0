"""Many processes, one fresh store file: created at the same instant, written concurrently.
Every commit that returned a ref must be in the file afterwards (issue 21)."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest
from process_harness import BARRIER_TIMEOUT_S, PROCESSES, run_together

ROUNDS = 20
SHARED = 16  # objects every process commits (same content: stored once)
OWN = 8  # objects only this process commits
VERSIONS = 3  # parameter versions each process adds to one shared branch per round


def _worker(root: str, who: int, barrier: Any, results: Any) -> None:
    """For each round: wait for the others, open a not-yet-existing store file together with
    them, commit shared and own objects and move a shared branch."""
    import trace_opt as trace
    from trace_opt.store import Store

    rng = random.Random(who)
    committed: dict[int, list[str]] = {}
    failures: list[str] = []
    p = trace.node("v", trainable=True)
    for r in range(ROUNDS):
        values: list[Any] = [{"shared": k} for k in range(SHARED)] + [{"who": who, "k": k} for k in range(OWN)]
        rng.shuffle(values)
        barrier.wait(timeout=BARRIER_TIMEOUT_S)
        try:
            with Store(Path(root) / f"round-{r}.db") as store:
                committed[r] = [store.commit(v).digest for v in values]
                store.set_ref(f"writer/{who}", committed[r][0])
                for i in range(VERSIONS):
                    p._set(f"{who}-{i}")
                    store.commit_parameters({"p": p}, message=f"{who} {i}", name="shared")
        except Exception as exc:  # noqa: BLE001 - counted and reported by the parent
            failures.append(f"round {r}: {type(exc).__name__}: {exc}")
    results.put({"who": who, "committed": committed, "failures": failures})


@pytest.mark.slow  # ~10-20 s on 2 cores; runs in CI like every test
def test_processes_started_together_on_a_fresh_store(tmp_path: Path) -> None:
    from trace_opt.store import Store

    reports = run_together(_worker, str(tmp_path), processes=PROCESSES)
    for r in range(ROUNDS):
        with Store(tmp_path / f"round-{r}.db") as store:
            for rep in reports:
                for digest in rep["committed"][r]:
                    assert digest in store, f"round {r}: committed object {digest[:12]} lost"
                assert store.ref(f"writer/{rep['who']}").digest == rep["committed"][r][0]
            expected = sorted(f"{w} {i}" for w in range(PROCESSES) for i in range(VERSIONS))
            # one linear chain: every branch move saw the previous head, nothing overwritten
            assert sorted(v.message or "" for v in store.history("shared")) == expected, f"round {r}"


def test_a_store_locked_too_long_raises_store_busy_and_keeps_every_commit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sqlite3

    from trace_opt.errors import StoreBusy
    from trace_opt.store import Store
    from trace_opt.store import db as db_module

    monkeypatch.setattr(db_module, "BUSY_TIMEOUT_S", 0.1)
    path = tmp_path / "s.db"
    store = Store(path)
    kept = store.commit("before")
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another process in the middle of a long write
    with pytest.raises(StoreBusy, match="retry it later") as info:
        store.commit("during")
    assert "locked" in str(info.value) and not store.db.conn.in_transaction
    assert store.get(kept) == "before"  # reads go on meanwhile (WAL)
    other.execute("COMMIT")
    other.close()
    assert store.get(store.commit("during")) == "during" and len(store) == 2
    store.close()


def test_opening_a_store_locked_too_long_raises_store_busy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sqlite3

    from trace_opt.errors import StoreBusy
    from trace_opt.store import Store
    from trace_opt.store import db as db_module

    monkeypatch.setattr(db_module, "BUSY_TIMEOUT_S", 0.1)
    path = tmp_path / "s.db"
    Store(path).close()
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("PRAGMA locking_mode=EXCLUSIVE")
    other.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(StoreBusy, match="cannot open store"):
            Store(path)
    finally:
        other.execute("COMMIT")
        other.close()
    with Store(path) as store:
        assert len(store) == 0
