"""Shared pieces of the sandbox escape suite: run attacker code exactly as an optimizer sets it.

Every attack first switches the in-process guard off (the audit hook's tables and closure are
reachable from the code it watches), so what stops it is the OS isolation, not the hook.
"""

from __future__ import annotations

import os
import subprocess
import textwrap
from collections.abc import Iterator
from typing import Any

import pytest

import trace_opt as trace
from trace_opt.sandbox import Sandbox, SandboxLimits, isolation, use_sandbox

SENTINEL = "sk-sentinel-7f3a9c2e51d04b8e"


def _os_isolation_missing() -> str | None:
    reason = isolation.unavailable_reason()
    if reason is None:
        probe = subprocess.run(["bwrap", "--unshare-all", "--ro-bind", "/", "/", "true"], capture_output=True)
        if probe.returncode != 0:
            reason = f"bwrap cannot create namespaces here: {probe.stderr.decode(errors='replace').strip()}"
    return reason


_MISSING = _os_isolation_missing()
# In CI the isolation must be there: never skip, fail.
needs_os_isolation = pytest.mark.skipif(_MISSING is not None and os.environ.get("CI") != "true", reason=str(_MISSING))

# Prepended to attacks: turn the audit hook into a no-op and prove it (ctypes loads afterwards).
BYPASS = """
import __main__, gc, types, ctypes, os, sys
__main__._BLOCKED_PREFIXES = ()
__main__._PATH_EVENTS = frozenset()
__main__._WRITE_FLAGS = 0
def _mk():
    inside = None
    def hook(event, args):
        return inside
    return hook
for _f in gc.get_objects():
    if isinstance(_f, types.FunctionType) and _f.__name__ == "hook" and _f.__code__.co_filename.endswith("worker.py"):
        _f.__code__ = _mk().__code__
libc = ctypes.CDLL(None, use_errno=True)
"""


def source(body: str, bypass: bool = True) -> str:
    text = (BYPASS if bypass else "") + textwrap.dedent(body)
    return "def target(*args):\n" + textwrap.indent(text, "    ") + "\n"


def attack(sb: Sandbox, body: str, *args: Any, bypass: bool = True) -> Any:
    """Set ``body`` as the new code of a trainable function (as an optimizer does) and call it
    in ``sb``; return its result, or raise the ExecutionError it produced."""

    @trace.bundle(trainable=True)
    def target(*args):
        return args

    target.parameter._set(source(body, bypass))
    with use_sandbox(sb):
        return target(*args).data


def still_works(sb: Sandbox) -> None:
    """The sandbox serves fresh code correctly after an attack."""

    @trace.bundle(trainable=True)
    def double(x):
        return x

    double.parameter._set("def double(x):\n    return [x * 2, len('abc'), __import__('json').dumps([1])]\n")
    with use_sandbox(sb):
        assert double(21).data == [42, 3, "[1]"]


def attack_fails(sb: Sandbox, body: str, *args: Any, bypass: bool = True) -> str:
    """The attack raised inside the sandbox; returns the feedback text an optimizer would see."""
    with pytest.raises(trace.ExecutionError) as info:
        attack(sb, body, *args, bypass=bypass)
    still_works(sb)
    return str(info.value.exception_node.data)


def os_sandbox(isolation: str = "os", **limits: Any) -> Iterator[Sandbox]:
    sb = Sandbox(SandboxLimits(**{"timeout": 5, "workers": 2, **limits}), isolation=isolation)
    yield sb
    sb.close()
