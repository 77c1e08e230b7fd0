"""Run traced calls concurrently: ``parallel(*tasks)`` and ``map(fn, items, concurrency=k)``.

Async work (coroutines, ``async def`` functions, ``LLM.acomplete``) runs on one event loop;
blocking work (sync bundled functions, sync LLM backends) runs in a thread pool sized to the
concurrency. Every branch starts from a *copy of the caller's context*, so the active LLM,
cache, usage trackers and tracing flag are the caller's, and the nodes each branch creates
are parented to that branch's own inputs -- the graph comes out the same as a sequential run.

``executor="ray"`` (or ``TRACE_OPT_EXECUTOR=ray``) runs each call as a Ray task instead, with the
same graph, usage and failure contract (see ``trace_opt.distributed``).

Results come back in input order. By default the first failure (in input order) is raised
once running branches finish, and branches not yet started are skipped;
``return_exceptions=True`` returns exceptions in place instead.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import inspect
import os
import threading
from collections.abc import Awaitable, Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from typing import Any, Literal, TypeVar

from .awaiting import run
from .context import using

__all__ = ["Executor", "amap", "aparallel", "map", "parallel", "run", "use_executor", "with_executor"]

Executor = Literal["thread", "ray"]
_EXECUTORS = ("thread", "ray")
_EXECUTOR: contextvars.ContextVar[str | None] = contextvars.ContextVar("trace_opt.executor", default=None)

T = TypeVar("T")
R = TypeVar("R")
Task = Callable[[], Any] | Awaitable[Any]


class _Skipped(Exception):
    """Placeholder result of a branch not started because an earlier one failed."""


def _check_concurrency(concurrency: int | None) -> None:
    if concurrency is not None and (not isinstance(concurrency, int) or concurrency < 1):
        raise ValueError(f"Invalid concurrency: {concurrency!r}\nhelp: pass an int >= 1, or None for no limit")


def _check_executor(executor: str, source: str) -> str:
    if executor not in _EXECUTORS:
        raise ValueError(f"Invalid {source}: {executor!r}\nhelp: use one of {', '.join(_EXECUTORS)}")
    return executor


def _executor(executor: str | None) -> str:
    """The explicit choice, else the block's (``use_executor``), else ``$TRACE_OPT_EXECUTOR``,
    else ``"thread"``."""
    if executor is not None:
        return _check_executor(executor, "executor")
    block = _EXECUTOR.get()
    if block is not None:
        return block
    return _check_executor((os.environ.get("TRACE_OPT_EXECUTOR") or "thread").strip().lower(), "TRACE_OPT_EXECUTOR")


def use_executor(executor: Executor | None) -> AbstractContextManager[str | None]:
    """Run the ``map``/``parallel`` calls made inside the block (that name no executor) on
    ``executor``; ``None`` keeps the default. ``optimizers.train(..., executor=)`` uses it.

    >>> import trace_opt as trace
    >>> with trace.execution.use_executor("thread"):
    ...     trace.execution.map(abs, [-1, 2])
    [1, 2]
    """
    if executor is not None:
        _check_executor(executor, "executor")
    return using(_EXECUTOR, executor if executor is not None else _EXECUTOR.get())


def with_executor(fn: Callable[..., R]) -> Callable[..., R]:
    """Give ``fn`` an ``executor=`` keyword: the call runs inside ``use_executor(executor)``, so
    every ``map``/``parallel`` it makes (that names no executor) uses it. ``optimizers.train``
    is wrapped this way: ``train(..., executor="ray")`` runs forward passes and judging as Ray
    tasks while the optimizer's own calls stay in the driver.

    >>> import trace_opt as trace
    >>> @trace.execution.with_executor
    ... def evaluate(xs):
    ...     return trace.execution.map(abs, xs)
    >>> evaluate([-3], executor="thread")
    [3]
    """

    @functools.wraps(fn)
    def wrapper(*args: Any, executor: Executor | None = None, **kwargs: Any) -> R:
        with use_executor(executor):
            return fn(*args, **kwargs)

    sig = inspect.signature(fn)
    params = list(sig.parameters.values())
    at = next((i for i, p in enumerate(params) if p.kind is p.VAR_KEYWORD), len(params))
    option = inspect.Parameter("executor", inspect.Parameter.KEYWORD_ONLY, default=None, annotation="Executor | None")
    wrapper.__signature__ = sig.replace(parameters=[*params[:at], option, *params[at:]])  # type: ignore[attr-defined]
    return wrapper


def _is_async_callable(fn: Any) -> bool:
    return inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(getattr(fn, "__call__", None)) or (
        getattr(fn, "is_async", False) is True  # a bundled async function (FunModule)
    )


async def aparallel(*tasks: Task, concurrency: int | None = None, return_exceptions: bool = False) -> list[Any]:
    """Await ``tasks`` (zero-argument callables or awaitables) concurrently; results in order.

    >>> import asyncio, trace_opt as trace
    >>> async def double(x):
    ...     return 2 * x
    >>> asyncio.run(trace.execution.aparallel(lambda: 1, double(2)))
    [1, 4]
    """
    _check_concurrency(concurrency)
    for t in tasks:
        if not (callable(t) or inspect.isawaitable(t)):
            raise TypeError(f"Invalid task: {t!r}\nhelp: pass zero-argument callables (lambda: f(x)) or coroutines")
    n = len(tasks)
    if n == 0:
        return []
    limit = concurrency or n
    semaphore = asyncio.Semaphore(limit)
    loop = asyncio.get_running_loop()
    failed = threading.Event()
    pool: ThreadPoolExecutor | None = None
    if any(callable(t) and not _is_async_callable(t) for t in tasks):
        pool = ThreadPoolExecutor(max_workers=min(limit, n), thread_name_prefix="trace_opt-parallel")

    async def run(task: Task) -> Any:
        async with semaphore:
            if failed.is_set() and not return_exceptions:
                if inspect.iscoroutine(task):
                    task.close()  # never started: close it so Python does not warn it was never awaited
                raise _Skipped()
            try:
                if not callable(task):
                    return await task
                if _is_async_callable(task):
                    return await task()
                ctx = contextvars.copy_context()
                result = await loop.run_in_executor(pool, functools.partial(ctx.run, task))
                return (await result) if inspect.isawaitable(result) else result
            except BaseException:
                failed.set()
                raise

    try:
        results = await asyncio.gather(*(run(t) for t in tasks), return_exceptions=True)
    finally:
        if pool is not None:
            pool.shutdown(wait=True)
    if not return_exceptions:
        for r in results:
            if isinstance(r, BaseException) and not isinstance(r, _Skipped):
                raise r
    return list(results)


def parallel(
    *tasks: Task, concurrency: int | None = None, return_exceptions: bool = False, executor: Executor | None = None
) -> list[Any]:
    """Run ``tasks`` concurrently and return their results in order (blocking).

    Each task is a zero-argument callable (``lambda: generate_text(p)``) or a coroutine
    (``llm.acomplete(p)``). Safe to call from inside a running event loop (it then runs on
    a helper thread). With ``executor="ray"`` each task is a Ray task (callables only: a
    coroutine object cannot be shipped).

    >>> import trace_opt as trace
    >>> @trace.bundle()
    ... def inc(x):
    ...     return x + 1
    >>> a, b = trace.execution.parallel(lambda: inc(1), lambda: inc(2))
    >>> (a.data, b.data)
    (2, 3)
    """
    if _executor(executor) == "ray":
        _check_concurrency(concurrency)
        for t in tasks:
            if not callable(t):
                raise TypeError(
                    f"Invalid task for executor='ray': {t!r}\nhelp: pass zero-argument callables (lambda: f(x))"
                )
        from .distributed import call_task, ray_map

        return ray_map(call_task, tasks, concurrency=concurrency, return_exceptions=return_exceptions)
    return run(aparallel(*tasks, concurrency=concurrency, return_exceptions=return_exceptions))


async def amap(
    fn: Callable[[T], Any], items: Iterable[T], *, concurrency: int | None = 8, return_exceptions: bool = False
) -> list[Any]:
    """Async :func:`map`: ``[fn(item) for item in items]`` with at most ``concurrency`` in flight."""
    return await aparallel(
        *(functools.partial(fn, item) for item in items), concurrency=concurrency, return_exceptions=return_exceptions
    )


def map(  # noqa: A001 - deliberately mirrors the builtin, as trace_opt.map
    fn: Callable[[T], Any],
    items: Iterable[T],
    *,
    concurrency: int | None = 8,
    return_exceptions: bool = False,
    executor: Executor | None = None,
) -> list[Any]:
    """``[fn(item) for item in items]`` with up to ``concurrency`` calls at once; ``fn`` sync or async.

    ``executor``: ``"thread"`` (default, or ``$TRACE_OPT_EXECUTOR``) runs in this process;
    ``"ray"`` runs each call as a Ray task and returns nodes attached to this process's graph.

    >>> import trace_opt as trace
    >>> @trace.bundle()
    ... def square(x):
    ...     return x * x
    >>> [n.data for n in trace.execution.map(square, [1, 2, 3], concurrency=2)]
    [1, 4, 9]
    """
    _check_concurrency(concurrency)
    if _executor(executor) == "ray":
        from .distributed import ray_map

        return ray_map(fn, items, concurrency=concurrency, return_exceptions=return_exceptions)
    return run(amap(fn, items, concurrency=concurrency, return_exceptions=return_exceptions))
