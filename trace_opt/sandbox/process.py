"""The user's side of one worker: start it, exchange frames under a deadline, kill it.

Nothing the worker sends is trusted: a reply must be one frame, no bigger than the cap, with
the request's id, complete before the deadline; anything else kills the worker. Its stderr is
drained into the log with control characters escaped, never passed to the user's terminal.
"""

from __future__ import annotations

import concurrent.futures
import functools
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from typing import Any

from ..errors import SandboxError
from ..secrets import logger
from . import isolation
from .worker import _HEADER, frame, scratch_usage

log = logger("trace_opt.sandbox")

_STDERR_KEEP = 8192
_CONTROL = {c: f"\\x{c:02x}" for c in [*range(0x00, 0x20), *range(0x7F, 0xA0)] if chr(c) not in "\n\t"}


def escape_controls(text: str) -> str:
    """Text from a worker with terminal control characters made visible (``\\x1b`` ...)."""
    return text.translate(_CONTROL)


@functools.lru_cache(maxsize=1)
def _spawner() -> concurrent.futures.ThreadPoolExecutor:
    """One long-lived thread starts every worker. bwrap's --die-with-parent (PR_SET_PDEATHSIG)
    fires when the *thread* that started it exits, so a worker started from a short-lived
    thread (a thread pool of ``trace.map``, ``asyncio.to_thread``) would die under a later
    call from another thread."""
    return concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="trace_opt-sandbox-spawner")


class ProtocolError(Exception):
    """The worker broke the protocol (oversized, malformed, extra or mismatched frame)."""


class Timeout(Exception):
    """The deadline passed before the exchange completed."""


class WorkerProcess:
    """One worker: its process (bwrap, or python itself), pipes and private scratch folder."""

    def __init__(self, kind: isolation.Isolation, scratch_root: str, config: dict[str, Any], label: str = "") -> None:
        os.makedirs(scratch_root, mode=0o700, exist_ok=True)
        self.scratch = tempfile.mkdtemp(prefix="worker_", dir=scratch_root)
        argv, env, inside = isolation.command(kind, self.scratch)
        self.key: str | None = None
        self.generation = 0
        self.label = label
        self._buf = bytearray()
        self._stderr = bytearray()
        self._err_open = True
        isolation.hold_nondumpable()
        self._held = True
        self.proc = _spawner().submit(
            subprocess.Popen, argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            env=env, cwd=self.scratch, start_new_session=True, close_fds=True,
        ).result()  # fmt: skip
        if self.proc.stdin is None or self.proc.stdout is None or self.proc.stderr is None:  # pragma: no cover
            raise OSError("could not open pipes to the sandbox worker")
        self.inp, self.out, self.err = self.proc.stdin.fileno(), self.proc.stdout.fileno(), self.proc.stderr.fileno()
        for fd in (self.inp, self.out, self.err):
            os.set_blocking(fd, False)
        try:
            self.hello = self.exchange({**config, "scratch": inside}, time.monotonic() + 30, 1 << 16, expect_id=False)
        except (Timeout, ProtocolError, EOFError, OSError, ValueError):
            detail = escape_controls(bytes(self._stderr).decode(errors="replace"))
            self.kill()
            failure = isolation.startup_failure(kind, detail)
            if failure is not None:
                raise failure from None
            raise RuntimeError(f"the sandbox worker did not start: {detail.strip()[-500:]}") from None

    def alive(self) -> bool:
        return self.proc.poll() is None

    def exchange(self, obj: Any, deadline: float, cap: int, expect_id: bool = True) -> Any:
        """Send one frame, read one frame back, all before ``deadline``."""
        data = memoryview(frame(obj))
        while data:
            ready_r, ready_w = self._wait(self._errs(), [self.inp], deadline)
            if ready_r:
                self._drain()
            if ready_w:
                try:
                    data = data[os.write(self.inp, data) :]
                except BlockingIOError:
                    continue
        reply = self._read(deadline, cap)
        if expect_id and (not isinstance(reply, dict) or reply.get("id") != obj.get("id")):
            raise ProtocolError("a reply that does not answer this request")
        return reply

    def _wait(self, rfds: list[int], wfds: list[int], deadline: float) -> tuple[list[int], list[int]]:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise Timeout
        r, w, _ = select.select(rfds, wfds, [], remaining)
        if not r and not w:
            raise Timeout
        return r, w

    def _read(self, deadline: float, cap: int) -> Any:
        head = _HEADER.size
        while True:
            if len(self._buf) >= head:
                (size,) = _HEADER.unpack_from(self._buf)
                if size > cap:
                    raise ProtocolError(f"a reply frame of {size} bytes (the cap is {cap})")
                if len(self._buf) >= head + size:
                    if len(self._buf) > head + size:
                        raise ProtocolError("bytes after the reply frame")
                    body = bytes(self._buf[head : head + size])
                    self._buf.clear()
                    return json.loads(body)
                want = head + size - len(self._buf)
            else:
                want = head
            ready, _ = self._wait([self.out, *self._errs()], [], deadline)
            if self.err in ready:
                self._drain()
            if self.out in ready:
                chunk = os.read(self.out, max(want, 1 << 16))
                if not chunk:
                    raise EOFError("the worker closed its pipe")
                self._buf += chunk

    def _errs(self) -> list[int]:
        return [self.err] if self._err_open else []

    def _drain(self) -> None:
        try:
            chunk = os.read(self.err, 1 << 16)
        except BlockingIOError:
            return
        if not chunk:  # the code closed its stderr: stop watching it (or select spins)
            self._err_open = False
            return
        self._stderr += chunk
        if len(self._stderr) > _STDERR_KEEP:
            del self._stderr[: len(self._stderr) - _STDERR_KEEP]
        log.info("sandboxed %s wrote: %s", self.label or "code", escape_controls(chunk.decode(errors="replace")))

    def kill(self) -> None:
        """Kill the worker's whole process group (under bwrap, killing bwrap ends the
        namespace: its init dies with its parent and the kernel kills the rest)."""
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:  # pragma: no cover - SIGKILL does not wait on us
            log.warning("sandbox worker %d did not exit after SIGKILL", self.proc.pid)
        for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            try:
                if stream is not None:
                    stream.close()
            except OSError:
                pass
        remove_tree(self.scratch)
        if self._held:
            self._held = False
            isolation.release_nondumpable()


def remove_tree(root: str) -> None:
    """``shutil.rmtree`` that also removes what sandboxed code made unreadable (a folder it
    chmod-ed to 000), so nothing it wrote outlives its worker. Permissions are restored through
    an ``O_PATH | O_NOFOLLOW`` descriptor: a link put in a folder's place is never followed."""
    opened: list[str] = []

    def restore(func: Any, path: str, exc: Any) -> None:
        exc = exc[1] if isinstance(exc, tuple) else exc  # onerror passes exc_info, onexc the exception
        if not isinstance(exc, PermissionError):
            return
        for target in (path, os.path.dirname(path)):
            try:
                fd = os.open(target, os.O_PATH | os.O_NOFOLLOW | os.O_DIRECTORY)
            except OSError:
                continue
            try:
                os.chmod(f"/proc/self/fd/{fd}", 0o700)
                opened.append(target)
            except OSError:
                pass
            finally:
                os.close(fd)

    hook = {"onexc": restore} if sys.version_info >= (3, 12) else {"onerror": restore}
    while True:  # each pass removes what the previous one opened up
        opened.clear()
        shutil.rmtree(root, **hook)  # type: ignore[arg-type]
        if not os.path.lexists(root) or not opened:
            return


def check_scratch(scratch: str, name: str, max_files: int, max_scratch_mb: int) -> None:
    """Raise ``SandboxError`` if a call left more in its worker's scratch folder than the limits
    allow. Counted here, in the parent: the worker's own guard can be got around."""
    files, size, unreadable = scratch_usage(scratch, max_files)
    hint = "write fewer or smaller files, delete the ones you no longer need, or raise SandboxLimits"
    if unreadable is not None:
        raise SandboxError(f"{name} made a folder in its sandbox scratch folder that cannot be read", hint=hint)
    if files > max_files:
        raise SandboxError(f"{name} left more than {max_files} files and folders in its sandbox scratch folder "
                           f"(SandboxLimits.max_files={max_files})", hint=hint)  # fmt: skip
    if size > max_scratch_mb * 2**20:
        raise SandboxError(f"{name} left {size / 2**20:.0f} MB in its sandbox scratch folder "
                           f"(SandboxLimits.max_scratch_mb={max_scratch_mb})", hint=hint)  # fmt: skip
