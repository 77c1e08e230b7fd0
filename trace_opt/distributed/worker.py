"""The body of one Ray task: rebuild the call, run it as the driver would, send the graph back.

Runs in the worker process. What the driver's context held and a worker cannot see is passed
explicitly: the tracing flag, the active LLM (by value), the response cache's directory (a path
every worker must see: the cache is an SQLite file that many processes share safely) and the
budget left. Usage is measured with a local tracker and returned, so the driver sums it into
its own trackers. Every exception is caught and returned: a Ray-level failure then only means
the worker died (which Ray retries), never an error in the user's code.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import inspect
import os
import socket
import time
from collections.abc import Iterable
from typing import Any

from ..context import TRACING, using
from ..errors import ExecutionError
from ..nodes import Node, ParameterNode, format_exception
from .results import dump_result, portable_exception
from .wire import RemoteError, load_call

__all__ = ["call_task", "parameter_version", "run_task"]

_caches: dict[tuple[str, str], Any] = {}


def parameter_version(nodes: Iterable[Node[Any]] | dict[int, Node[Any]]) -> str:
    """A short hash of the parameters' names and values (order-free): two tasks with the same
    version ran the same prompts and code, and the driver computes it from its own parameters.

    >>> import trace_opt as trace
    >>> p = trace.node("Be brief.", trainable=True, name="p")
    >>> parameter_version([p]) == parameter_version({0: p})
    True
    """
    found = nodes.values() if isinstance(nodes, dict) else nodes
    entries = sorted(f"{n._name}\0{n._data!r}" for n in found if isinstance(n, ParameterNode))
    return hashlib.sha256("\0\0".join(entries).encode("utf-8", "backslashreplace")).hexdigest()[:16]


def call_task(task: Any) -> Any:
    """``fn`` of ``parallel(..., executor="ray")``: each item is a zero-argument callable."""
    return task()


def _cache(path: str, mode: str) -> Any:
    from ..llm.cache import Cache

    key = (path, mode)
    if key not in _caches:  # one connection per worker process, reused by its tasks
        _caches[key] = Cache(path, mode=mode)  # type: ignore[arg-type]
    return _caches[key]


def _remote_traceback(exc: BaseException) -> str:
    return format_exception(exc, limit=8)


def run_task(common: bytes, item: bytes, settings: dict[str, Any]) -> bytes:
    """Run ``fn(item)`` with the driver's settings; return the pickled envelope (see wire)."""
    from ..llm import track_usage, use_cache
    from ..llm.registry import use

    started = time.perf_counter()
    (fn, llm), arg, shipped = load_call(common, item)
    envelope: dict[str, Any] = {"ok": True, "value": None}
    with contextlib.ExitStack() as stack:
        if settings.get("no_cache"):
            stack.enter_context(use_cache(None))
        elif settings.get("cache_dir"):
            stack.enter_context(use_cache(_cache(settings["cache_dir"], settings.get("cache_mode", "read-write"))))
        if llm is not None:
            stack.enter_context(use(llm))
        stack.enter_context(using(TRACING, settings.get("tracing", True)))
        usage = stack.enter_context(track_usage(**settings.get("limits", {})))
        try:
            value = fn(arg)
            if inspect.isawaitable(value):
                value = asyncio.run(_awaited(value))
            envelope["value"] = value
        except ExecutionError as exc:
            envelope.update(ok=False, exception_node=exc.exception_node)
        except Exception as exc:  # noqa: BLE001 - the driver decides what a failure means
            envelope.update(ok=False, error=portable_exception(exc), traceback=_remote_traceback(exc))
    envelope.update(
        usage=(usage.calls, usage.cached_calls, usage.prompt_tokens, usage.completion_tokens, usage.cost),
        version=parameter_version(shipped),
        parameters={i: n.version for i, n in shipped.items() if isinstance(n, ParameterNode)},
        host=socket.gethostname(),
        node=_node_id(),
        pid=os.getpid(),
        seconds=time.perf_counter() - started,
    )
    try:
        return dump_result(envelope, shipped)
    except Exception as exc:  # noqa: BLE001 - e.g. an unpicklable return value
        text = f"{type(exc).__name__}: {exc}"
        envelope.update(ok=False, value=None, exception_node=None, error=RemoteError(text), traceback=text)
        return dump_result(envelope, shipped)


def _node_id() -> str:
    try:
        import ray

        # Outside a Ray worker (a direct call) asking for the context would start Ray.
        return str(ray.get_runtime_context().get_node_id()) if ray.is_initialized() else ""
    except Exception:  # noqa: BLE001 - outside Ray (direct calls in tests) there is no node
        return ""


async def _awaited(value: Any) -> Any:
    return await value
