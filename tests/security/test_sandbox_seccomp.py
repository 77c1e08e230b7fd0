"""The seccomp filter, system call by system call: each dangerous call, made directly through
libc after the audit hook is switched off, gets EPERM (or ENOSYS for clone3, so that glibc
falls back to the filtered clone). Runs under both isolations that load it."""

from __future__ import annotations

import errno
from collections.abc import Iterator

import pytest
from sandbox_attacks import attack, attack_fails, os_sandbox, still_works

from trace_opt.sandbox import Sandbox, isolation

pytestmark = pytest.mark.skipif(isolation.seccomp_program() is None, reason="libseccomp is not installed")

CALLS = ["ptrace", "process_vm_readv", "mount", "umount2", "unshare", "setns", "pivot_root", "chroot", "bpf",
         "perf_event_open", "keyctl", "add_key", "userfaultfd", "io_uring_setup", "init_module", "finit_module",
         "kexec_load", "mknodat", "socket", "socketpair", "execve", "vfork", "fork", "open_by_handle_at"]  # fmt: skip


@pytest.fixture(scope="module", params=["os", "process"])
def sb(request: pytest.FixtureRequest) -> Iterator[Sandbox]:
    if request.param == "os" and isolation.unavailable_reason():
        pytest.skip(isolation.unavailable_reason() or "")
    yield from os_sandbox(isolation=request.param)


def test_dangerous_system_calls_get_eperm(sb: Sandbox) -> None:
    import pyseccomp

    numbers = {name: pyseccomp.resolve_syscall(pyseccomp.system_arch(), name) for name in CALLS}
    numbers = {name: n for name, n in numbers.items() if n >= 0}  # some are missing on some architectures
    body = """
    libc.syscall.restype = ctypes.c_long
    out = {}
    for name, number in args[0].items():
        ctypes.set_errno(0)
        r = libc.syscall(ctypes.c_long(number), ctypes.c_long(0), ctypes.c_long(0), ctypes.c_long(0),
                         ctypes.c_long(0), ctypes.c_long(0), ctypes.c_long(0))
        out[name] = [r, ctypes.get_errno()]
    return out
    """
    results = attack(sb, body, numbers)
    assert results == {name: [-1, errno.EPERM] for name in numbers}
    assert attack(sb, "return [libc.syscall(435, 0, 0), ctypes.get_errno()]") == [-1, errno.ENOSYS]  # clone3
    still_works(sb)


def test_terminal_input_cannot_be_injected(sb: Sandbox) -> None:
    body = """
    import fcntl, termios
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSTI, b'x')
    return 'injected'
    """
    assert "Operation not permitted" in attack_fails(sb, body)
