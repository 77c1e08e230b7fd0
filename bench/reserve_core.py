"""Run a benchmark on a core of its own while other work keeps the machine busy.

    python bench/reserve_core.py python bench/bench_core.py

On a shared 2-core machine a wall-clock figure mostly measures the other processes. This
wrapper runs the command on the last CPU and, every 0.2 s while it runs, pins every other
process on the machine (new ones included) to the remaining CPUs; when the command ends it
gives them all CPUs back. The command's own process tree keeps its core, so its figures are
close to what an idle machine gives, and ``bench/_results.py`` records that the core was
reserved. Needs permission to change other processes' affinity (root, or the same user);
processes it may not touch are left as they are, and the saved load average still says how busy
the machine was. Linux only (``os.sched_setaffinity``).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time


def _processes() -> dict[int, int]:
    """Every process on the machine and its parent, from one pass over /proc."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    parents[int(entry)] = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):  # the process ended meanwhile
                continue
    return parents


def _tree(root: int, parents: dict[int, int]) -> set[int]:
    kids: dict[int, list[int]] = {}
    for pid, ppid in parents.items():
        kids.setdefault(ppid, []).append(pid)
    seen, todo = set(), [root]
    while todo:
        pid = todo.pop()
        seen.add(pid)
        todo.extend(kids.get(pid, []))
    return seen


def _set_affinity(pid: int, cpus: set[int], *, only_from: set[int] | None = None) -> None:
    try:
        now = os.sched_getaffinity(pid)
        if now != cpus and (only_from is None or now == only_from):
            os.sched_setaffinity(pid, cpus)
    except OSError:  # ended, a kernel thread, or not ours to change
        pass


def _pin(root: int, core: int, others: set[int]) -> None:
    parents = _processes()
    keep = _tree(root, parents) | {os.getpid()}
    for pid in parents:
        # a child the command started after the last pass is pinned to the others for a
        # moment; once it shows up in the tree it gets the reserved core back
        _set_affinity(pid, {core} if pid in keep else others)


def _release(others: set[int], every: set[int]) -> None:
    for pid in _processes():
        _set_affinity(pid, every, only_from=others)


def main(argv: list[str]) -> int:
    if not argv:
        sys.exit(__doc__)
    every = set(range(os.cpu_count() or 1))
    if len(every) < 2:
        sys.exit("reserve_core: needs at least 2 CPUs")
    core = max(every)
    others = every - {core}
    os.sched_setaffinity(0, {core})
    env = dict(os.environ, TRACE_OPT_BENCH_RESERVED_CORE=str(core))
    proc = subprocess.Popen(argv, env=env)
    try:
        while proc.poll() is None:
            _pin(proc.pid, core, others)
            time.sleep(0.2)
    finally:
        if proc.poll() is None:
            proc.terminate()
        _release(others, every)
    return proc.wait()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
