"""Escape class: the user's process. Rewritten code signals it (kill, killpg, SIGSTOP), and
the user's process is non-dumpable while workers run."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from sandbox_attacks import attack, needs_os_isolation, os_sandbox, still_works

from trace_opt.sandbox import Sandbox, isolation

pytestmark = needs_os_isolation


@pytest.fixture(scope="module")
def sb() -> Iterator[Sandbox]:
    yield from os_sandbox()


@pytest.fixture()
def bystander() -> Iterator[subprocess.Popen[bytes]]:
    """A process of the user's (same user, own process group) standing in for the parent."""
    proc = subprocess.Popen(["sleep", "300"], start_new_session=True)
    yield proc
    proc.kill()
    proc.wait()


def _state(pid: int) -> str:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]


SIGNALS = """
out = []
for pid, how, sig in args[0]:
    try:
        (os.killpg if how == 'pg' else os.kill)(pid, sig)
        out.append('sent')
    except OSError as e:
        out.append(type(e).__name__)
return out
"""


def test_signals_cannot_reach_the_users_processes(sb: Sandbox, bystander: subprocess.Popen[bytes]) -> None:
    me = os.getpid()
    targets = [
        [bystander.pid, "pid", signal.SIGSTOP], [bystander.pid, "pid", signal.SIGKILL],
        [bystander.pid, "pg", signal.SIGKILL], [me, "pid", signal.SIGSTOP], [os.getpgid(me), "pg", signal.SIGSTOP],
    ]  # fmt: skip
    results = attack(sb, SIGNALS, targets)
    assert "sent" not in results  # none of these pids exists in the worker's PID namespace
    assert bystander.poll() is None and _state(bystander.pid) in ("S", "R")
    still_works(sb)


def test_signalling_its_own_namespace_init_does_not_break_the_pool(sb: Sandbox) -> None:
    body = "for sig in (signal.SIGSTOP, signal.SIGTERM, signal.SIGKILL):\n    os.kill(os.getppid(), sig)\nreturn os.getppid()"
    assert attack(sb, "import signal\n" + body) == 1  # bwrap's init ignores signals from inside
    still_works(sb)


def test_the_users_process_is_non_dumpable_while_workers_run() -> None:
    gen = os_sandbox(workers=1)
    sb = next(gen)
    still_works(sb)
    assert isolation._prctl(3) == 0  # PR_GET_DUMPABLE: no ptrace, /proc/<pid>/mem, environ for others
    sb.close()
    if isolation._dumpable_holders == 0:  # other sandboxes of this test session may still run
        assert isolation._prctl(3) == 1
