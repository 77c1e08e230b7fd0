"""Run code an LLM wrote in a separate, limited process.

An optimizer that rewrites a trainable function can write anything: an endless loop, a
memory bomb, ``os.remove``, a request to some host. Such code runs here, not in the user's
process:

- a small pool of reusable worker processes, each a fresh ``python -I`` running the
  stdlib-only ``worker.py`` (so no model and no secrets in its memory, API-key variables
  scrubbed from its environment, and the user's ``__main__`` never re-run);
- per call, a wall-clock timeout (the worker is killed and replaced) and, per worker, an
  address-space limit (``RLIMIT_AS``) and a CPU-time backstop;
- no network: a private network namespace where the OS allows it (root on Linux), and in any
  case an audit hook that refuses sockets, new processes, ``ctypes`` and writes outside a
  scratch folder;
- arguments, globals and results cross as tagged JSON data, never pickle, so a result cannot
  run code when it arrives.

Audit hooks and rlimits are defence in depth, not a boundary against a determined attacker
with native code; they stop the accidents and the obvious abuses an optimizer produces.
"""

from __future__ import annotations

import ast
import atexit
import builtins
import logging
import os
import queue
import select
import subprocess
import sys
import threading
import types
from collections.abc import Callable
from contextlib import AbstractContextManager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from ..context import using
from ..errors import SandboxError
from .worker import _SECRET_WORDS, Unsendable, decode, encode, read_frame, write_frame

__all__ = ["Sandbox", "SandboxLimits", "get_sandbox", "use_sandbox"]

log = logging.getLogger(__name__)

_WORKER_SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "worker.py")


@dataclass(frozen=True)
class SandboxLimits:
    """Limits for sandboxed calls: seconds per call, megabytes of extra memory per worker,
    number of warm workers."""

    timeout: float = 10.0
    memory_mb: int = 512
    workers: int = 2

    def __post_init__(self) -> None:
        if not self.timeout > 0:
            raise ValueError(f"Invalid timeout: {self.timeout!r} (help: pass seconds > 0)")
        if self.memory_mb < 16:
            raise ValueError(f"Invalid memory_mb: {self.memory_mb!r} (help: pass at least 16)")
        if self.workers < 1:
            raise ValueError(f"Invalid workers: {self.workers!r} (help: pass at least 1)")


def _environment(source: str, template: Callable[..., Any] | None) -> dict[str, Any]:
    """The globals (and closure values) the new code refers to, as data: modules by name,
    importable functions by reference, plain values by value. Anything else is left out and
    surfaces as a NameError the optimizer can read."""
    if template is None:
        return {}
    names = {n.id for n in ast.walk(ast.parse(source)) if isinstance(n, ast.Name)}
    scope = dict(getattr(template, "__globals__", {}))
    closure = getattr(template, "__closure__", None)
    if closure:
        scope.update(zip(template.__code__.co_freevars, (c.cell_contents for c in closure)))
    env: dict[str, Any] = {}
    for name in sorted(names & scope.keys()):
        value = scope[name]
        if isinstance(value, types.ModuleType):
            env[name] = {"module": value.__name__}
            continue
        target = getattr(value, "_fn", value)  # a bundled function: ship the plain function
        qual = getattr(target, "__qualname__", "")
        mod = getattr(target, "__module__", None)
        if callable(target) and mod and mod != "__main__" and "<locals>" not in qual:
            env[name] = {"ref": [mod, qual]}
            continue
        try:
            env[name] = {"value": encode(value)}
        except Unsendable:
            continue
    return env


# -- the user's side --------------------------------------------------------------------------


class _Worker:
    """One worker process and its pipes."""

    def __init__(self, limits: SandboxLimits, scratch: str) -> None:
        self.cpu_seconds = int(max(10, limits.timeout * 4))
        self.proc = subprocess.Popen(
            [sys.executable, "-I", _WORKER_SCRIPT],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=None,
            env={k: v for k, v in os.environ.items() if not any(w in k.upper() for w in _SECRET_WORDS)},
        )
        if self.proc.stdin is None or self.proc.stdout is None:  # pragma: no cover - PIPE always sets them
            raise SandboxError("could not open pipes to the sandbox worker")
        self.stdin, self.stdout = self.proc.stdin, self.proc.stdout
        config = {"path": sys.path, "scratch": scratch, "memory_mb": limits.memory_mb, "cpu_seconds": self.cpu_seconds}
        write_frame(self.stdin, config)
        if not self.wait_readable(30):
            self.kill()
            raise SandboxError("the sandbox worker did not start within 30 s")
        self.hello = read_frame(self.stdout)

    def wait_readable(self, timeout: float) -> bool:
        return bool(select.select([self.stdout], [], [], timeout)[0])

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait(5)
        for stream in (self.stdin, self.stdout):
            try:
                stream.close()
            except OSError:
                pass


class Sandbox:
    """A pool of sandbox workers. ``call`` runs one function given by its source.

    >>> from trace_opt.sandbox import Sandbox
    >>> sb = Sandbox()
    >>> sb.call("def f(x):\\n    return x * 2\\n", "f", (21,))
    42
    >>> sb.close()
    """

    def __init__(self, limits: SandboxLimits | None = None, scratch: str | None = None) -> None:
        import tempfile

        self.limits = limits or SandboxLimits()
        self.scratch = scratch or tempfile.mkdtemp(prefix="trace_opt_sandbox_")
        self._idle: queue.LifoQueue[_Worker] = queue.LifoQueue()
        self._lock = threading.Lock()
        self._started = 0
        self.calls = 0

    def _acquire(self) -> _Worker:
        try:
            return self._idle.get_nowait()
        except queue.Empty:
            pass
        with self._lock:
            if self._started < self.limits.workers:
                self._started += 1
                return _Worker(self.limits, self.scratch)
        return self._idle.get()

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
        reads like an in-process failure), PermissionError for a forbidden operation, and
        SandboxError for a timeout, a crash or data that cannot cross the boundary.
        """
        try:
            request = {
                "source": source, "name": name, "env": _environment(source, template),
                "args": [encode(a) for a in args], "kwargs": encode(dict(kwargs or {})),
                "self_placeholder": self_placeholder,
            }  # fmt: skip
        except Unsendable as exc:
            raise SandboxError(
                f"an argument of type {exc} cannot be sent to sandboxed code {name}",
                hint="pass plain data (str, numbers, lists, dicts), or bundle(sandbox=False) for code you trust",
            ) from None
        worker = self._acquire()
        self.calls += 1
        reusable = False
        try:
            write_frame(worker.stdin, request)
            if not worker.wait_readable(self.limits.timeout):
                raise SandboxError(f"{name} timed out after {self.limits.timeout:g} s in the sandbox")
            reply = read_frame(worker.stdout)
            reusable = True
        except (EOFError, OSError, ValueError):
            try:
                worker.proc.wait(1)
            except subprocess.TimeoutExpired:
                pass
            raise SandboxError(
                f"{name} crashed its sandbox worker (exit code {worker.proc.returncode}); limits: "
                f"{self.limits.memory_mb} MB of memory, {worker.cpu_seconds} s of CPU"
            ) from None
        finally:
            if reusable:
                self._idle.put(worker)
            else:
                worker.kill()
                with self._lock:
                    self._started -= 1
        if "ok" in reply:
            return decode(reply["ok"])
        kind, message, tb = reply["error"]
        text = message if not tb else f"{message}\n{tb.rstrip()}"
        exc_type = getattr(builtins, kind, None)
        if isinstance(exc_type, type) and issubclass(exc_type, Exception):
            try:
                error = exc_type(text)
            except TypeError:  # exception types whose constructor wants other arguments
                error = RuntimeError(f"{kind}: {text}")
        else:
            error = RuntimeError(f"{kind}: {text}")
        raise error

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop every worker."""
        while True:
            try:
                self._idle.get_nowait().kill()
            except queue.Empty:
                break
        with self._lock:
            self._started = 0


_SANDBOX: ContextVar[Sandbox | None] = ContextVar("trace_opt.sandbox", default=None)
_default: Sandbox | None = None
_default_lock = threading.Lock()


def get_sandbox() -> Sandbox:
    """The sandbox in effect: the one set with ``use_sandbox``, else a process-wide default
    (started on first use, like a thread pool)."""
    sb = _SANDBOX.get()
    if sb is not None:
        return sb
    global _default
    with _default_lock:
        if _default is None:
            _default = Sandbox()
            atexit.register(_default.close)  # workers must not outlive the interpreter
        return _default


def use_sandbox(sandbox: Sandbox) -> AbstractContextManager[Sandbox]:
    """``with use_sandbox(Sandbox(SandboxLimits(timeout=2))):`` -- limits for a block."""
    return using(_SANDBOX, sandbox)
