"""Run code an LLM wrote in a separate, isolated process.

An optimizer that rewrites a trainable function can write anything: an endless loop, a
memory bomb, ``os.remove``, a request to some host, a read of ``~/.netrc``. Such code runs
here, never in the user's process:

- each worker is a fresh ``python -I`` running the stdlib-only ``worker.py``, by default under
  bubblewrap's namespaces with only the Python installation visible, read-only, and a private
  scratch folder (``isolation.py`` says exactly what holds);
- a worker serves one function's code for its whole life; code for another function gets
  another worker, so nothing one rewrite leaves behind reaches another;
- per call, one deadline for the whole exchange: on timeout, a reply that is too big,
  malformed, extra or for another request, the worker's process group is killed;
- after each call the parent counts the worker's scratch folder (entries and MB on disk):
  past ``SandboxLimits.max_files`` / ``max_scratch_mb`` the worker and its folder go;
- arguments, the globals the function needs and results cross as tagged JSON data, never
  pickle, so a result cannot run code when it arrives.

Where OS isolation is unavailable the sandbox refuses to run code (``SandboxUnavailable``)
unless the user opts in to ``isolation="process"``.
"""

from __future__ import annotations

import atexit
import builtins
import hashlib
import json
import os
import secrets
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from ..context import using
from ..errors import SandboxError
from ..secrets import logger
from . import isolation
from .environment import environment
from .isolation import Isolation
from .process import ProtocolError, Timeout, WorkerProcess, check_scratch, escape_controls
from .worker import Unsendable, decode, encode

__all__ = ["Isolation", "Sandbox", "SandboxLimits", "get_sandbox", "use_sandbox"]

log = logger(__name__)


@dataclass(frozen=True)
class SandboxLimits:
    """Limits for sandboxed calls: seconds per call, megabytes of extra memory per worker,
    number of warm workers (each serves one function), the size of a reply in MB, and what a
    worker may keep in its scratch folder: entries (files, folders, links) and MB on disk."""

    timeout: float = 10.0
    memory_mb: int = 512
    workers: int = 4
    max_reply_mb: int = 64
    max_files: int = 1000
    max_scratch_mb: int = 256

    def __post_init__(self) -> None:
        if not self.timeout > 0:
            raise ValueError(f"Invalid timeout: {self.timeout!r} (help: pass seconds > 0)")
        if self.memory_mb < 16:
            raise ValueError(f"Invalid memory_mb: {self.memory_mb!r} (help: pass at least 16)")
        if self.workers < 1:
            raise ValueError(f"Invalid workers: {self.workers!r} (help: pass at least 1)")
        if self.max_reply_mb < 1:
            raise ValueError(f"Invalid max_reply_mb: {self.max_reply_mb!r} (help: pass at least 1)")
        if self.max_files < 1:
            raise ValueError(f"Invalid max_files: {self.max_files!r} (help: pass at least 1)")
        if self.max_scratch_mb < 1:
            raise ValueError(f"Invalid max_scratch_mb: {self.max_scratch_mb!r} (help: pass at least 1)")

    def worker_config(self, kind: Isolation) -> dict[str, Any]:
        program = isolation.seccomp_program()
        return {
            "path": isolation.worker_path(),
            "memory_mb": self.memory_mb,
            "cpu_seconds": int(max(10, self.timeout * 4)),
            "fsize_mb": 64,
            "nofile": 256,
            "nproc": 64 if kind == "os" else None,  # per user namespace only under bwrap
            "seccomp": program.hex() if program else None,
            "max_frame": self.max_reply_mb * 2**20,
            "max_files": self.max_files,
        }


class Sandbox:
    """A pool of sandbox workers. ``call`` runs one function given by its source.

    ``isolation``: ``"os"`` (default, or ``$TRACE_OPT_SANDBOX``) needs Linux with bubblewrap;
    ``"process"`` is the explicit opt-in to a plain worker process where that is missing.

    >>> from trace_opt.sandbox import Sandbox
    >>> sb = Sandbox()
    >>> sb.call("def f(x):\\n    return x * 2\\n", "f", (21,))
    42
    >>> sb.close()
    """

    def __init__(self, limits: SandboxLimits | None = None, scratch: str | None = None, isolation: str | None = None) -> None:
        import tempfile

        from . import isolation as iso

        self.limits = limits or SandboxLimits()
        self.isolation: Isolation = iso.choose(isolation)
        self.scratch = scratch or tempfile.mkdtemp(prefix="trace_opt_sandbox_")
        self._cond = threading.Condition()
        self._idle: list[WorkerProcess] = []  # least recently used first
        self._count = 0
        self._generation = 0
        self.calls = 0
        self.started = 0

    # -- the pool ---------------------------------------------------------------------------
    def _acquire(self, key: str, label: str) -> tuple[WorkerProcess, bool]:
        """A worker for ``key``: a warm one already serving it, else a new one (evicting the
        least recently used idle worker if the pool is full). The bool says whether it is new."""
        with self._cond:
            while True:
                for w in reversed(self._idle):
                    if w.key == key:
                        self._idle.remove(w)
                        if w.alive():
                            return w, False
                        self._discard(w)
                        break
                else:
                    if self._count < self.limits.workers:
                        self._count += 1
                        generation = self._generation
                        break
                    if self._idle:
                        self._discard(self._idle.pop(0))
                        continue
                    self._cond.wait()
        try:
            isolation.require(self.isolation)
            worker = WorkerProcess(self.isolation, self.scratch, self.limits.worker_config(self.isolation), label)
        except BaseException:
            with self._cond:
                self._count -= 1
                self._cond.notify()
            raise
        worker.generation = generation
        self.started += 1
        return worker, True

    def _discard(self, worker: WorkerProcess) -> None:
        """Kill a worker the caller has taken out of the pool (with the lock held)."""
        worker.kill()
        self._count -= 1

    def _release(self, worker: WorkerProcess, reusable: bool) -> None:
        with self._cond:
            if reusable and worker.generation == self._generation:
                self._idle.append(worker)
            else:
                self._discard(worker)
            self._cond.notify()

    # -- calls ------------------------------------------------------------------------------
    def call(
        self,
        source: str,
        name: str,
        args: tuple[Any, ...] | list[Any] = (),
        kwargs: dict[str, Any] | None = None,
        template: Callable[..., Any] | None = None,
        self_placeholder: bool = False,
    ) -> Any:
        """Run ``name`` from ``source`` on the arguments in a worker; return its result.

        Raises the sandboxed code's own exception type for ordinary errors (so feedback
        reads like an in-process failure), PermissionError for a forbidden operation,
        SandboxError for a timeout, a crash or data that cannot cross the boundary, and
        SandboxUnavailable where the isolation asked for cannot run here.
        """
        try:
            env = environment(source, template)
            request: dict[str, Any] = {
                "args": [encode(a) for a in args], "kwargs": encode(dict(kwargs or {})),
                # plain-data globals travel with every call, so they are current (like module state)
                "values": {k: env.pop(k)["value"] for k in [k for k, v in env.items() if "value" in v]},
            }  # fmt: skip
        except Unsendable as exc:
            raise SandboxError(
                f"an argument of type {exc} cannot be sent to sandboxed code {name}",
                hint="pass plain data (str, numbers, lists, dicts), or bundle(sandbox=False) for code you trust",
            ) from None
        function = {"source": source, "name": name, "env": env, "self_placeholder": self_placeholder}
        key = hashlib.sha256(json.dumps(function, sort_keys=True).encode()).hexdigest()
        worker, new = self._acquire(key, name)
        if new:
            request.update(function)
        request["id"] = secrets.randbits(63)
        self.calls += 1
        reusable = False
        try:
            reply = worker.exchange(request, time.monotonic() + self.limits.timeout, self.limits.max_reply_mb * 2**20)
            check_scratch(worker.scratch, name, self.limits.max_files, self.limits.max_scratch_mb)
            worker.key = key
            reusable = True
        except Timeout:
            raise SandboxError(f"{name} timed out after {self.limits.timeout:g} s in the sandbox") from None
        except ProtocolError as exc:
            raise SandboxError(f"{name} broke the sandbox protocol: {exc}; its worker was killed") from None
        except (EOFError, OSError, ValueError):
            raise SandboxError(
                f"{name} crashed its sandbox worker (exit code {worker.proc.poll()}); limits: "
                f"{self.limits.memory_mb} MB of memory, {self.limits.worker_config(self.isolation)['cpu_seconds']} s of CPU"
            ) from None
        finally:
            self._release(worker, reusable)
        if "ok" in reply:
            return decode(reply["ok"])
        return _raise(reply.get("error"))

    async def acall(self, *args: Any, **kwargs: Any) -> Any:
        """``call`` for ``async def`` code, in a thread so the event loop keeps running
        while the worker works (the worker runs the coroutine to completion)."""
        import asyncio

        return await asyncio.to_thread(self.call, *args, **kwargs)

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop every worker (a call running now keeps its worker until it returns)."""
        with self._cond:
            self._generation += 1
            while self._idle:
                self._discard(self._idle.pop())
            try:
                os.rmdir(self.scratch)  # each worker removed its own folder in it; recreated on use
            except OSError:
                pass


def _raise(error: Any) -> Any:
    """Re-raise a worker's error report as an exception of the same built-in type."""
    if not (isinstance(error, list) and len(error) == 3 and all(isinstance(e, str) for e in error)):
        raise SandboxError("the sandbox worker sent a malformed error report")
    kind, message, tb = error
    text = escape_controls(message if not tb else f"{message}\n{tb.rstrip()}")
    exc_type = getattr(builtins, kind, None)
    if isinstance(exc_type, type) and issubclass(exc_type, Exception) and not issubclass(exc_type, Warning):
        try:
            error = exc_type(text)
        except TypeError:  # exception types whose constructor wants other arguments
            error = None
        if error is not None:
            raise error
    raise RuntimeError(f"{escape_controls(kind)}: {text}")


_SANDBOX: ContextVar[Sandbox | None] = ContextVar("trace_opt.sandbox", default=None)
_defaults: dict[str, Sandbox] = {}
_default_lock = threading.Lock()


def get_sandbox(isolation: str | None = None) -> Sandbox:
    """The sandbox in effect: the one set with ``use_sandbox``, else a process-wide default
    for the isolation asked for (``$TRACE_OPT_SANDBOX`` or ``"os"`` when None), started on
    first use like a thread pool."""
    sb = _SANDBOX.get()
    if sb is not None:
        return sb
    from . import isolation as iso

    kind = iso.choose(isolation)
    with _default_lock:
        if kind not in _defaults:
            _defaults[kind] = Sandbox(isolation=kind)
            atexit.register(_defaults[kind].close)  # workers must not outlive the interpreter
        return _defaults[kind]


def use_sandbox(sandbox: Sandbox) -> AbstractContextManager[Sandbox]:
    """``with use_sandbox(Sandbox(SandboxLimits(timeout=2))):`` -- limits for a block."""
    return using(_SANDBOX, sandbox)
