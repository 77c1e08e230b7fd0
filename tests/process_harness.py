"""Start several processes at the same instant and collect what each reports.

For the tests that many processes share one file (the LLM cache directory, the store): each
worker runs in a fresh ``spawn`` process, meets the others at a barrier before every round,
and puts one report (a dict with a ``failures`` list) on a queue. The parent fails at once,
naming the worker, when a process dies without reporting, instead of waiting out the queue.
"""

from __future__ import annotations

import multiprocessing
import queue
import time
from collections.abc import Callable
from typing import Any

PROCESSES = 8
BARRIER_TIMEOUT_S = 120  # a worker that waits longer at a barrier has lost a peer


def run_together(
    worker: Callable[..., None], *args: Any, processes: int = PROCESSES, timeout: float = 300
) -> list[dict[str, Any]]:
    """Run ``worker(*args, who, barrier, results)`` in ``processes`` spawned processes.

    ``worker`` must be a module-level function (spawn imports it by name in the child) and
    put exactly one report dict on ``results``. Returns the reports in arrival order, after
    checking every process exited with 0 and no report lists failures.
    """
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(processes)
    results = ctx.Queue()
    procs = [ctx.Process(target=worker, args=(*args, who, barrier, results)) for who in range(processes)]
    for proc in procs:
        proc.start()
    reports: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    try:
        while len(reports) < processes:
            try:
                reports.append(results.get(timeout=1))
                continue
            except queue.Empty:
                pass
            # A report may still be in flight from a process that just exited, so only a
            # failed exit (or the deadline) ends the wait.
            dead = [(who, p.exitcode) for who, p in enumerate(procs) if p.exitcode not in (None, 0)]
            assert not dead, f"worker(s) died before reporting (who, exit code): {dead}"
            assert time.monotonic() < deadline, f"only {len(reports)} of {processes} workers reported in {timeout} s"
        for proc in procs:
            proc.join(timeout=60)
            assert proc.exitcode == 0, f"a worker exited with {proc.exitcode}"
    finally:
        for proc in procs:
            if proc.is_alive():
                proc.kill()
                proc.join(timeout=10)
    failures = [f for rep in reports for f in rep["failures"]]
    assert failures == [], f"{len(failures)} failed call(s), first: {failures[0]}"
    return reports
