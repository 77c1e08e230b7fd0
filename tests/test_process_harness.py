"""The many-processes harness (tests/process_harness.py) fails fast and says why."""

from __future__ import annotations

import os
import time
from typing import Any

import pytest
from process_harness import run_together


def _reporting_worker(tag: str, who: int, barrier: Any, results: Any) -> None:
    barrier.wait(timeout=60)
    results.put({"who": who, "tag": tag, "failures": [f"{tag} {who}"] if tag == "fail" and who == 1 else []})


def _dying_worker(who: int, barrier: Any, results: Any) -> None:
    if who == 1:
        os._exit(3)  # dies before the barrier and before reporting
    results.put({"who": who, "failures": []})


def test_every_report_comes_back() -> None:
    reports = run_together(_reporting_worker, "ok", processes=2)
    assert sorted(r["who"] for r in reports) == [0, 1] and {r["tag"] for r in reports} == {"ok"}


def test_a_failure_in_a_report_fails_the_run() -> None:
    with pytest.raises(AssertionError, match="1 failed call"):
        run_together(_reporting_worker, "fail", processes=2)


def test_a_worker_that_dies_fails_the_run_at_once() -> None:
    start = time.monotonic()
    with pytest.raises(AssertionError, match=r"died before reporting .*\(1, 3\)"):
        run_together(_dying_worker, processes=2, timeout=120)
    assert time.monotonic() - start < 60  # not the 120 s timeout
