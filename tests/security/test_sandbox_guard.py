"""Escape class: the in-process guard switched off from inside, then processes, sockets,
namespaces and children that outlive the sandbox. The OS layer must hold on its own."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from sandbox_attacks import attack, attack_fails, needs_os_isolation, os_sandbox, still_works

from trace_opt.sandbox import Sandbox

pytestmark = needs_os_isolation


@pytest.fixture(scope="module")
def sb() -> Iterator[Sandbox]:
    yield from os_sandbox()


def test_the_guard_can_be_switched_off_but_that_alone_gains_nothing(sb: Sandbox) -> None:
    assert "ctypes is not allowed" in attack_fails(sb, "import ctypes\nctypes.CDLL(None)\nreturn 1", bypass=False)
    assert attack(sb, "return libc.getpid() > 0") is True  # after the bypass: the hook is off


@pytest.mark.parametrize(
    "body",
    [
        # subprocess reaches _posixsubprocess.fork_exec directly once the hook is off
        "import subprocess\nreturn subprocess.run(['/bin/sh', '-c', 'echo escaped'], capture_output=True).stdout",
        "r = os.system('echo escaped')\nif r != 0:\n    raise PermissionError(f'system() returned {r}')\nreturn r",
        "return os.fork()",
        "return os.posix_spawn('/bin/true', ['true'], {})",
        "return os.execv('/bin/sh', ['sh', '-c', 'true'])",
        "r = libc.syscall(57)\nif r < 0:\n    raise PermissionError(ctypes.get_errno(), 'raw fork refused')\nreturn r",
    ],
    ids=["subprocess", "system", "fork", "posix_spawn", "exec", "raw-fork-syscall"],
)
def test_no_new_process_starts(sb: Sandbox, body: str) -> None:
    feedback = attack_fails(sb, body)
    assert "PermissionError" in feedback or "Operation not permitted" in feedback
    assert "escaped" not in feedback


@pytest.fixture()
def listeners(tmp_path: Path) -> Iterator[tuple[socket.socket, socket.socket, str]]:
    tcp = socket.socket()
    tcp.bind(("127.0.0.1", 0))
    tcp.listen()
    path = str(tmp_path / "parent.sock")
    unix = socket.socket(socket.AF_UNIX)
    unix.bind(path)
    unix.listen()
    for s in (tcp, unix):
        s.settimeout(0.2)
    yield tcp, unix, path
    tcp.close()
    unix.close()


def _no_connection(*servers: socket.socket) -> None:
    for s in servers:
        with pytest.raises(socket.timeout):
            s.accept()


def test_no_socket_reaches_the_users_listeners(sb: Sandbox, listeners: tuple[socket.socket, socket.socket, str]) -> None:
    tcp, unix, path = listeners
    port = tcp.getsockname()[1]
    attack_fails(sb, "import socket\ns = socket.create_connection(('127.0.0.1', args[0]), timeout=1)\nreturn 1", port)
    attack_fails(sb, "import socket\ns = socket.socket(socket.AF_UNIX)\ns.connect(args[0])\nreturn 1", path)
    # native socket(2) too: refused by seccomp, not by Python
    assert attack(sb, "return [libc.socket(2, 1, 0), ctypes.get_errno()]") == [-1, 1]
    _no_connection(tcp, unix)


def test_setns_back_into_a_network_namespace_is_refused(sb: Sandbox, listeners: tuple[socket.socket, socket.socket, str]) -> None:
    tcp, unix, _ = listeners
    body = """
    found = []
    for pid in os.listdir('/proc'):
        if pid.isdigit():
            try:
                fd = os.open(f'/proc/{pid}/ns/net', os.O_RDONLY)
            except OSError:
                continue
            found.append([int(pid), libc.setns(fd, 0x40000000), ctypes.get_errno()])
    return [found, libc.unshare(0x40000000), libc.unshare(0x10000000)]
    """
    found, unshare_net, unshare_user = attack(sb, body)
    assert found and all(result == -1 for _, result, _ in found)
    assert unshare_net == -1 and unshare_user == -1
    attack_fails(sb, "import socket\ns = socket.create_connection(('127.0.0.1', args[0]), timeout=1)\nreturn 1", tcp.getsockname()[1])
    _no_connection(tcp, unix)


def test_the_users_process_is_not_in_view(sb: Sandbox) -> None:
    pids = attack(sb, "return sorted(int(p) for p in os.listdir('/proc') if p.isdigit())")
    assert os.getpid() not in pids or os.getpid() <= 3
    assert max(pids) <= 3  # bwrap's init, the worker, maybe one thread's view: nothing of the host


def test_children_and_threads_do_not_outlive_close() -> None:
    gen = os_sandbox(workers=1)
    sb = next(gen)
    body = """
    import threading, time
    for _ in range(4):
        threading.Thread(target=time.sleep, args=(3600,), daemon=False).start()
    return libc.syscall(57)
    """
    assert attack(sb, body) == -1
    (worker,) = sb._idle
    pid = worker.proc.pid
    sb.close()
    assert not Path(f"/proc/{pid}").exists()
    with pytest.raises(StopIteration):
        next(gen)




def test_a_thread_bomb_is_capped(sb: Sandbox) -> None:
    body = """
    import threading, time
    n = 0
    try:
        for _ in range(1000):
            threading.Thread(target=time.sleep, args=(3,), daemon=True).start()
            n += 1
    except RuntimeError:
        pass
    return n
    """
    assert attack(sb, body) <= 64  # RLIMIT_NPROC in its own user namespace, and RLIMIT_AS before it
    still_works(sb)
