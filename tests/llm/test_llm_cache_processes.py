"""Many processes, one cache directory: started at the same instant on a fresh directory,
hammering overlapping keys. No call may fail, no answer may be lost, and a re-run must be
answered entirely from the cache (issue 21: one call in ~51,600 raised "database is locked"
when several processes created the cache together)."""

from __future__ import annotations

import logging
import random
import threading
from pathlib import Path
from typing import Any

import pytest
from process_harness import BARRIER_TIMEOUT_S, PROCESSES, run_together

ROUNDS = 20
KEYS = 24  # distinct prompts per round, asked by every process in its own order


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def _prompts(r: int) -> list[str]:
    return [f"round {r} question {k}" for k in range(KEYS)]


def _worker(root: str, who: int, barrier: Any, results: Any) -> None:
    """One process: for each round, wait for the others, then open a *fresh* cache directory
    at the same moment as they do and ask every prompt; afterwards re-ask everything."""
    import trace_opt as trace
    from trace_opt.llm import Cache, FunctionLLM, use_cache

    collect = _Collect()
    logging.getLogger("trace_opt").addHandler(collect)
    lock = threading.Lock()
    calls = [0]

    def backend(messages: list[dict[str, Any]], **params: Any) -> str:
        with lock:
            calls[0] += 1
        return "answer to " + messages[-1]["content"]

    llm = FunctionLLM(backend, name="shared-backend")
    rng = random.Random(who)
    failures: list[str] = []
    wrong = 0

    def ask_round(r: int) -> None:
        nonlocal wrong
        prompts = _prompts(r) * 2  # every key twice: hits from this process's own writes too
        rng.shuffle(prompts)
        try:
            cache = Cache(Path(root) / f"round-{r}")
            with use_cache(cache):
                texts = trace.map(lambda p: llm.complete(p).text, prompts, concurrency=4)
            cache.close()
        except Exception as exc:  # noqa: BLE001 - counted and reported by the parent
            failures.append(f"round {r}: {type(exc).__name__}: {exc}")
            return
        wrong += sum(t != "answer to " + p for p, t in zip(prompts, texts))

    for r in range(ROUNDS):
        barrier.wait(timeout=BARRIER_TIMEOUT_S)
        ask_round(r)
    first = calls[0]
    barrier.wait(timeout=BARRIER_TIMEOUT_S)
    for r in range(ROUNDS):  # the re-run: new Cache objects, so nothing comes from memory
        ask_round(r)
    results.put({"who": who, "first": first, "rerun": calls[0] - first, "failures": failures,
                 "wrong": wrong, "warnings": collect.messages})  # fmt: skip


@pytest.mark.slow  # ~10-20 s on 2 cores; runs in CI like every test
def test_processes_started_together_on_a_fresh_cache(tmp_path: Path) -> None:
    from trace_opt.llm import Cache

    reports = run_together(_worker, str(tmp_path), processes=PROCESSES)
    assert sum(rep["wrong"] for rep in reports) == 0
    assert [w for rep in reports for w in rep["warnings"]] == []
    # Each key answered at least once per round (racing processes may both miss a key).
    assert sum(rep["first"] for rep in reports) >= ROUNDS * KEYS
    assert sum(rep["rerun"] for rep in reports) == 0, "the re-run called the backend"
    for r in range(ROUNDS):
        cache = Cache(tmp_path / f"round-{r}")
        records = {rec["request"]["messages"][-1]["content"]: rec["response"]["text"] for rec in cache.records()}
        cache.close()
        assert records == {p: "answer to " + p for p in _prompts(r)}, f"round {r} lost entries"


def test_a_forked_child_opens_its_own_connection(tmp_path: Path) -> None:
    import os
    import warnings

    from trace_opt.llm import Cache, FunctionLLM, use_cache

    if not hasattr(os, "fork"):
        pytest.skip("needs fork")
    llm = FunctionLLM(lambda messages, **params: "answer to " + messages[-1]["content"], name="fork")
    cache = Cache(tmp_path, memory_size=0)
    with use_cache(cache):
        llm.complete("parent")
    parent_db = cache._db
    with warnings.catch_warnings():  # Python 3.12+ warns about fork in a threaded process
        warnings.simplefilter("ignore", DeprecationWarning)
        pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        try:
            with use_cache(cache):
                ok = llm.complete("parent").cached and not llm.complete("child").cached
            os._exit(0 if ok and cache._db is not parent_db else 1)
        except BaseException:
            os._exit(2)
    _, status = os.waitpid(pid, 0)
    assert os.WEXITSTATUS(status) == 0
    assert cache._db is parent_db  # the parent's handle was left alone
    with use_cache(cache):
        assert llm.complete("child").cached  # written by the child, through its own connection
    cache.close()
