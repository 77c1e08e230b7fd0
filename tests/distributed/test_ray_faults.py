"""Faults: a worker killed mid-task is retried by Ray; a task that fails for good becomes a
RemoteTaskError in its place without losing the other results; Ctrl-C cancels what is left."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pytest

import trace_opt as trace
from trace_opt.distributed import last_tasks, ray_map
from trace_opt.errors import RemoteTaskError


def dies_once(job: tuple[str, int]) -> Any:
    marker, x = job
    if x == 1 and not os.path.exists(marker):
        Path(marker).write_text(str(os.getpid()))
        os._exit(1)  # the worker process dies mid-task, as on a preempted node
    return trace.node(x, name="x") * 10


def always_dies(x: int) -> int:
    if x == 1:
        os._exit(1)
    return x


def sleeps(job: tuple[str, int]) -> int:
    folder, x = job
    Path(folder, f"started-{x}").write_text("")
    time.sleep(60)
    return x


def test_killed_worker_is_retried(local_ray: Any, tmp_path: Path) -> None:
    marker = str(tmp_path / "died")
    outs = trace.map(dies_once, [(marker, 0), (marker, 1), (marker, 2)], executor="ray")
    assert [o.data for o in outs] == [0, 10, 20]
    dead_pid = int(Path(marker).read_text())
    assert last_tasks()[1].pid != dead_pid  # the answer came from another (retried) worker


def test_task_failing_for_good_keeps_the_other_results(local_ray: Any) -> None:
    results = ray_map(always_dies, [0, 1, 2], concurrency=2, return_exceptions=True, max_retries=0)
    assert results[0] == 0 and results[2] == 2
    assert isinstance(results[1], RemoteTaskError) and "task 1 failed on Ray" in str(results[1])
    assert last_tasks()[1].failed and not last_tasks()[0].failed
    with pytest.raises(RemoteTaskError):
        ray_map(always_dies, [1], concurrency=1, return_exceptions=False, max_retries=0)


def test_ctrl_c_cancels_outstanding_tasks(local_ray: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    ray = local_ray
    cancelled: list[Any] = []
    real_cancel = ray.cancel

    def interrupted_wait(refs: list[Any], **kwargs: Any) -> Any:
        deadline = time.monotonic() + 60
        while len(list(tmp_path.glob("started-*"))) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        raise KeyboardInterrupt  # Ctrl-C while both tasks run

    def recording_cancel(ref: Any, **kwargs: Any) -> None:
        cancelled.append(ref)
        real_cancel(ref, **kwargs)

    monkeypatch.setattr(ray, "wait", interrupted_wait)
    monkeypatch.setattr(ray, "cancel", recording_cancel)
    with pytest.raises(KeyboardInterrupt):
        trace.map(sleeps, [(str(tmp_path), 1), (str(tmp_path), 2)], concurrency=2, executor="ray")
    monkeypatch.undo()
    assert len(cancelled) == 2
    started = time.monotonic()
    for ref in cancelled:
        with pytest.raises((ray.exceptions.TaskCancelledError, ray.exceptions.WorkerCrashedError)):
            ray.get(ref, timeout=30)
    assert time.monotonic() - started < 30  # cancelled, not left to sleep for a minute


def test_ctrl_c_ends_queued_tasks_promptly_and_leaves_none_running(local_ray: Any, tmp_path: Path) -> None:
    """Six one-minute tasks on two CPUs: two run, four wait in Ray's queue. A real SIGINT ends the
    map; the queued tasks never start, the running ones are stopped, and both CPUs are free."""
    import signal
    import threading

    ray = local_ray
    pressed: list[float] = []

    def press_ctrl_c() -> None:
        deadline = time.monotonic() + 60
        while len(list(tmp_path.glob("started-*"))) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        pressed.append(time.monotonic())
        signal.raise_signal(signal.SIGINT)

    presser = threading.Thread(target=press_ctrl_c)
    presser.start()
    with pytest.raises(KeyboardInterrupt):
        trace.map(sleeps, [(str(tmp_path), i) for i in range(6)], concurrency=6, executor="ray")
    interrupted = time.monotonic()
    presser.join()
    assert interrupted - pressed[0] < 15  # the driver stopped waiting at once, not after the minute
    records = last_tasks()
    assert sum(r.bytes_sent > 0 for r in records) == 6  # all six were submitted: four sat queued

    @ray.remote(num_cpus=1)
    def probe() -> int:
        return os.getpid()

    # Both CPUs free again: two one-CPU tasks run at once, well before a sleeper could finish.
    assert len(ray.get([probe.remote(), probe.remote()], timeout=30)) == 2
    assert time.monotonic() - interrupted < 30
    time.sleep(1)  # a queued task that escaped cancellation would have started by now
    assert len(list(tmp_path.glob("started-*"))) == 2
