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


def _children() -> dict[int, list[int]]:
    kids: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):  # the process ended meanwhile
                continue
            kids.setdefault(ppid, []).append(int(entry))
    return kids


def _tree(root: int) -> set[int]:
    kids, seen, todo = _children(), set(), [root]
    while todo:
        pid = todo.pop()
        seen.add(pid)
        todo.extend(kids.get(pid, []))
    return seen


def _pin(keep: set[int], core: int, others: set[int]) -> None:
    for entry in os.listdir("/proc"):
        pid = int(entry) if entry.isdigit() else None
        if pid is None:
            continue
        # a child the command started after the tree was read is pinned to the others for a
        # moment; once it shows up in the tree it gets the reserved core back
        want = {core} if pid in keep else others
        try:
            if os.sched_getaffinity(pid) != want:
                os.sched_setaffinity(pid, want)
        except OSError:  # ended, a kernel thread, or not ours to change
            pass


def _release(others: set[int], every: set[int]) -> None:
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.sched_getaffinity(int(entry)) == others:
                    os.sched_setaffinity(int(entry), every)
            except OSError:
                pass


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
            _pin(_tree(proc.pid) | {os.getpid()}, core, others)
            time.sleep(0.2)
    finally:
        if proc.poll() is None:
            proc.terminate()
        _release(others, every)
    return proc.wait()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
