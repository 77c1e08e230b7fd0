"""How a sandbox worker is isolated from the user's machine, built from established tools.

``"os"`` (the default) starts each worker under bubblewrap (``bwrap``, Debian package
``bubblewrap``): new user, PID, mount, network, IPC, UTS and cgroup namespaces; a root made of
read-only binds of only what Python needs (``/usr``, the interpreter's prefixes, its
site-packages); a private scratch folder as the one writable place; a fresh ``/proc`` in
which the user's process does not exist; an empty environment plus an allow-list; its own
session; killed with its parent. Inside, the worker loads a seccomp filter compiled here with
libseccomp (``pyseccomp``) before it reads any code.

``"process"`` is the explicit opt-in where that is unavailable: a ``python -I`` worker with
the same environment allow-list, rlimits and seccomp filter (when libseccomp exists) but the
user's filesystem, network and processes in view.

The filter is loaded by the worker itself once the interpreter is up, not by bwrap's
``--seccomp``: it forbids ``execve``, which bwrap still needs to start Python.

We build command lines and a filter here; we do not write our own namespace or BPF code.
"""

from __future__ import annotations

import errno
import functools
import os
import shutil
import sys
import tempfile
import threading
from typing import Literal

from ..errors import SandboxUnavailable
from ..secrets import logger

log = logger(__name__)

Isolation = Literal["os", "process"]
ISOLATIONS: tuple[str, ...] = ("os", "process")
ENV_VAR = "TRACE_OPT_SANDBOX"
INSIDE_SCRATCH = "/scratch"
INSIDE_WORKER = "/run/trace_opt/worker.py"
WORKER_SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "worker.py")
_OPT_IN = (
    f"install bubblewrap (apt-get install bubblewrap) on Linux with user namespaces, or opt in to a "
    f"weaker sandbox with bundle(sandbox='process') / {ENV_VAR}=process, or trust the code with sandbox=False"
)


def choose(isolation: str | None) -> Isolation:
    """The isolation asked for: the argument, else ``$TRACE_OPT_SANDBOX``, else ``"os"``."""
    value = isolation if isolation is not None else (os.environ.get(ENV_VAR) or "os")
    if value not in ISOLATIONS:
        source = "isolation" if isolation is not None else f"${ENV_VAR}"
        raise ValueError(f"Invalid {source}: {value!r} (help: use one of {', '.join(ISOLATIONS)})")
    return value  # type: ignore[return-value]


def environment(scratch: str) -> dict[str, str]:
    """The worker's whole environment: nothing of the user's but locale and library path."""
    env = {"PATH": "/usr/bin:/bin", "HOME": scratch, "TMPDIR": scratch, "LANG": "C.UTF-8", "PYTHONIOENCODING": "utf-8"}
    if os.environ.get("LD_LIBRARY_PATH"):  # some Python builds need it to find libpython
        env["LD_LIBRARY_PATH"] = os.environ["LD_LIBRARY_PATH"]
    return env


def unavailable_reason() -> str | None:
    """Why ``"os"`` isolation cannot run here, or None. Checked before the first worker."""
    if not sys.platform.startswith("linux"):
        return f"OS isolation for optimizer-written code needs Linux with bubblewrap; this is {sys.platform}"
    if shutil.which("bwrap") is None:
        return "OS isolation for optimizer-written code needs bubblewrap (`bwrap`), which is not installed"
    return None


def require(isolation: Isolation) -> None:
    """Raise SandboxUnavailable with the one-line reason and the ways to opt in."""
    if sys.platform == "win32":  # no rlimits, no select() on pipes: no worker we could limit
        raise SandboxUnavailable(
            "the sandbox for optimizer-written code needs Linux (or, opted in, a POSIX system); this is Windows",
            hint="run rewrites only if you trust them, with bundle(sandbox=False)",
        )
    reason = unavailable_reason() if isolation == "os" else None
    if reason:
        raise SandboxUnavailable(reason, hint=_OPT_IN)


def startup_failure(isolation: Isolation, detail: str) -> SandboxUnavailable | None:
    """A worker that died before saying hello under bwrap means namespaces are refused here."""
    if isolation != "os":
        return None
    last = detail.strip().splitlines()[-1] if detail.strip() else "bwrap exited at once"  # bwrap's error, or a traceback's
    return SandboxUnavailable(
        f"bubblewrap could not start the isolated sandbox worker ({last}); user namespaces may be disabled",
        hint=_OPT_IN,
    )


def _python_roots() -> list[str]:
    """Folders the interpreter needs, read-only: its prefixes and site-packages, never the
    user's home or working folder themselves (which may hold .env files and ~/.netrc)."""
    return _roots(tuple(sys.path), os.path.expanduser("~"), os.getcwd())


@functools.lru_cache(maxsize=8)
def _roots(path: tuple[str, ...], home: str, cwd: str) -> list[str]:
    private = {os.path.realpath(p) for p in (home, cwd, "/")}
    candidates = {sys.base_prefix, sys.prefix, sys.exec_prefix, sys.base_exec_prefix}
    candidates.add(os.path.dirname(os.path.dirname(os.path.realpath(sys.executable))))
    candidates.update(p for p in path if os.path.basename(p) in ("site-packages", "dist-packages"))
    roots: set[str] = set()
    for candidate in candidates:
        real = os.path.realpath(candidate)
        if not os.path.isdir(real):
            continue
        if any(real == p or p.startswith(real + os.sep) for p in private):
            # a prefix that contains the user's folders: bind only its library and program folders
            roots.update(os.path.join(real, sub) for sub in ("lib", "lib64", "bin") if os.path.isdir(os.path.join(real, sub)))
        else:
            roots.add(real)
    ordered = sorted(roots)
    inside_usr = [r for r in ordered if r == "/usr" or r.startswith("/usr/")]  # bound as a whole already
    return [r for r in ordered if r not in inside_usr and not any(r.startswith(o + os.sep) for o in ordered)]


def worker_path() -> list[str]:
    """``sys.path`` for the worker: only entries inside the interpreter's read-only roots."""
    roots = _python_roots()
    inside = [p for p in sys.path if p and any(os.path.realpath(p) == r or os.path.realpath(p).startswith(r + os.sep) for r in [*roots, "/usr"])]
    return [os.path.realpath(p) for p in inside]


def importable_inside(filename: str | None) -> bool:
    """Whether a module file lies in the folders the worker can see (the Python installation)."""
    if not filename:
        return False
    return _inside(filename, tuple(_python_roots()))


@functools.lru_cache(maxsize=4096)
def _inside(filename: str, roots: tuple[str, ...]) -> bool:
    real = os.path.realpath(filename)
    return any(real.startswith(r + os.sep) for r in [*roots, "/usr"])


@functools.lru_cache(maxsize=1)
def _bwrap_prefix() -> tuple[str, ...]:
    bwrap = shutil.which("bwrap") or "bwrap"
    args = [bwrap, "--unshare-all", "--die-with-parent", "--new-session", "--clearenv", "--cap-drop", "ALL"]
    args += ["--ro-bind", "/usr", "/usr"]
    for top in ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
        if os.path.islink(top):
            args += ["--symlink", os.readlink(top), top]
        elif os.path.isdir(top):
            args += ["--ro-bind", top, top]
    for name in ("/etc/ld.so.cache", "/etc/localtime"):
        if os.path.exists(name):
            args += ["--ro-bind", name, name]
    for root in _python_roots():
        args += ["--ro-bind", root, root]
    # /dev is bwrap's own minimal one (null, zero, urandom, tty...), read-only so that its tmpfs
    # (/dev/shm) cannot be filled to eat the machine's memory outside RLIMIT_AS
    args += ["--ro-bind", WORKER_SCRIPT, INSIDE_WORKER, "--proc", "/proc", "--dev", "/dev", "--remount-ro", "/dev"]
    return tuple(args)


def command(isolation: Isolation, scratch: str) -> tuple[list[str], dict[str, str], str]:
    """(argv, environment for Popen, scratch path as the worker sees it)."""
    python = sys.executable
    if isolation == "process":
        return [python, "-I", WORKER_SCRIPT], environment(scratch), scratch
    args = list(_bwrap_prefix())
    args += ["--bind", scratch, INSIDE_SCRATCH, "--chdir", INSIDE_SCRATCH, "--remount-ro", "/"]
    for key, value in environment(INSIDE_SCRATCH).items():
        args += ["--setenv", key, value]
    return [*args, python, "-I", INSIDE_WORKER], {"PATH": "/usr/bin:/bin"}, INSIDE_SCRATCH


# -- seccomp ----------------------------------------------------------------------------------

# Refused with EPERM after the worker has started. Threads stay possible (clone with
# CLONE_THREAD); processes, sockets (but an unnamed AF_UNIX pair), tracing, namespaces, mounts, devices, kernel keyrings,
# io_uring (which bypasses the filter) and terminal input injection do not.
_DENY = (
    "execve", "execveat", "fork", "vfork", "ptrace", "process_vm_readv", "process_vm_writev", "kcmp",
    "pidfd_getfd", "socket", "mount", "umount2", "pivot_root", "chroot", "setns", "unshare",
    "move_mount", "open_tree", "fsopen", "fsmount", "fsconfig", "mount_setattr", "kexec_load", "kexec_file_load",
    "init_module", "finit_module", "delete_module", "bpf", "perf_event_open", "keyctl", "add_key", "request_key",
    "userfaultfd", "io_uring_setup", "io_uring_enter", "io_uring_register", "open_by_handle_at",
    "name_to_handle_at", "mknod", "mknodat", "swapon", "swapoff", "reboot", "acct", "settimeofday",
    "clock_settime", "clock_adjtime", "adjtimex", "syslog", "quotactl", "fanotify_init", "iopl", "ioperm",
    "personality", "lookup_dcookie", "vhangup",
)  # fmt: skip
_CLONE_THREAD = 0x00010000
_AF_UNIX = 1
_TIOCSTI, _TIOCLINUX = 0x5412, 0x541C


@functools.lru_cache(maxsize=1)
def seccomp_program() -> bytes | None:
    """The worker's filter as compiled BPF, or None where libseccomp is missing."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        import pyseccomp as sc  # type: ignore[import-untyped]
    except (ImportError, OSError, RuntimeError) as exc:  # RuntimeError: libseccomp.so not found
        log.warning("no seccomp filter for sandbox workers: %s", exc)
        return None
    f = sc.SyscallFilter(sc.ALLOW)
    for name in _DENY:
        try:
            f.add_rule(sc.ERRNO(errno.EPERM), name)
        except (OSError, RuntimeError, ValueError):  # not a system call on this architecture
            continue
    f.add_rule(sc.ERRNO(errno.EPERM), "clone", sc.Arg(0, sc.MASKED_EQ, _CLONE_THREAD, 0))
    f.add_rule(sc.ERRNO(errno.ENOSYS), "clone3")  # glibc then falls back to clone, filtered above
    # an anonymous AF_UNIX pair stays (asyncio's self-pipe); it reaches nothing outside the process
    f.add_rule(sc.ERRNO(errno.EPERM), "socketpair", sc.Arg(0, sc.NE, _AF_UNIX))
    for request in (_TIOCSTI, _TIOCLINUX):
        f.add_rule(sc.ERRNO(errno.EPERM), "ioctl", sc.Arg(1, sc.MASKED_EQ, 0xFFFFFFFF, request))
    with tempfile.TemporaryFile() as fh:
        f.export_bpf(fh)
        fh.seek(0)
        return fh.read()


# -- the user's process -----------------------------------------------------------------------

_dumpable_lock = threading.Lock()
_dumpable_holders = 0
_dumpable_before: int | None = None


def _prctl(option: int, value: int = 0) -> int:
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    return int(libc.prctl(option, ctypes.c_ulong(value), ctypes.c_ulong(0), ctypes.c_ulong(0), ctypes.c_ulong(0)))


def hold_nondumpable() -> None:
    """While any worker runs, the user's process is non-dumpable: no ptrace, no
    ``/proc/<pid>/mem`` or ``environ`` for other processes of the same user."""
    global _dumpable_holders, _dumpable_before
    if not sys.platform.startswith("linux"):
        return
    with _dumpable_lock:
        if _dumpable_holders == 0:
            _dumpable_before = _prctl(3)  # PR_GET_DUMPABLE
            _prctl(4, 0)  # PR_SET_DUMPABLE
        _dumpable_holders += 1


def release_nondumpable() -> None:
    """Undo ``hold_nondumpable`` when the last worker stops."""
    global _dumpable_holders
    if not sys.platform.startswith("linux"):
        return
    with _dumpable_lock:
        _dumpable_holders -= 1
        if _dumpable_holders == 0 and _dumpable_before is not None and _dumpable_before > 0:
            _prctl(4, _dumpable_before)
