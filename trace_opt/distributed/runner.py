"""``map`` on Ray: start or join Ray, schedule one task per item, rebuild results in the driver.

Ray is started the way its users expect (:func:`ensure_ray`). The mapped function (with the
active LLM) is pickled once and put in Ray's object store; each task ships only its item. At
most ``concurrency`` tasks are in flight; before each submission the driver checks its usage
trackers, and stops scheduling once a budget is spent -- each task also carries the budget
left, so a run overspends by at most its in-flight calls. A worker that dies is retried by Ray
(``max_retries``); a task that fails for good becomes a :class:`RemoteTaskError` in its place;
Ctrl-C cancels every outstanding task before it propagates.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from .. import secrets
from ..context import TRACING
from ..errors import BudgetExceeded, DistributedError, ExecutionError, MissingDependency, RemoteTaskError
from .results import Inbound
from .wire import Outbound

__all__ = ["TaskRecord", "ensure_ray", "last_tasks", "ray_map"]

log = secrets.logger(__name__)

_LAST: ContextVar[list[TaskRecord]] = ContextVar("trace_opt.distributed.last", default=[])
_remote: list[Any] = []


@dataclass
class TaskRecord:
    """What one task ran and cost: ``parameter_version`` hashes the parameter values it received
    (``parameters`` maps their shipping index to their ``version`` counter). ``bytes_sent`` is
    the item's own payload; ``bytes_common`` the function's, put in Ray's object store once per
    map and read by each worker from its node's store."""

    index: int
    parameter_version: str = ""
    parameters: dict[int, int] = field(default_factory=dict)
    host: str = ""
    node: str = ""
    pid: int = 0
    seconds: float = 0.0
    bytes_sent: int = 0
    bytes_common: int = 0
    bytes_received: int = 0
    usage: tuple[int, int, int, int, float] = (0, 0, 0, 0, 0.0)
    failed: bool = False


def last_tasks() -> list[TaskRecord]:
    """The records of the last ``map(..., executor="ray")`` made in this context, in item order.

    >>> from trace_opt.distributed import last_tasks
    >>> isinstance(last_tasks(), list)
    True
    """
    return _LAST.get()


def _import_ray() -> Any:
    try:
        import ray
    except ImportError as exc:
        raise MissingDependency(
            "executor='ray' needs the ray package, which is not installed",
            hint="pip install 'trace-opt-lib[ray]' (or pass executor='thread')",
        ) from exc
    return ray


def ensure_ray() -> Any:
    """The ``ray`` module, initialised: an already-running Ray is used as is; else
    ``ray.init(address=$RAY_ADDRESS)`` when that is set; else a local instance with one CPU
    per core, no dashboard, worker logs kept out of the driver and usage stats off."""
    ray = _import_ray()
    if ray.is_initialized():
        return ray
    address = os.environ.get("RAY_ADDRESS", "").strip()
    try:
        if address:
            ray.init(address=address, log_to_driver=False)
        else:
            os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
            ray.init(num_cpus=os.cpu_count() or 1, include_dashboard=False, log_to_driver=False)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        where = f"the cluster at RAY_ADDRESS={address!r}" if address else "a local Ray instance"
        raise DistributedError(
            f"could not start or join {where}: {exc}",
            hint="check that the cluster is up (`ray status`) or unset RAY_ADDRESS to run locally",
        ) from exc
    return ray


def _task(ray: Any) -> Any:
    if not _remote:
        from .worker import run_task

        _remote.append(ray.remote(run_task))
    return _remote[0]


def _settings(cache: Any) -> dict[str, Any]:
    path = getattr(cache, "path", None)
    return {
        "tracing": TRACING.get(),
        "no_cache": cache is None,
        "cache_dir": str(path) if path is not None else os.environ.get("TRACE_OPT_CACHE_DIR") or None,
        "cache_mode": getattr(cache, "mode", "read-write"),
    }


def _limits(trackers: tuple[Any, ...]) -> tuple[dict[str, Any], str | None]:
    """The budget a new task may spend (the tightest tracker's remainder), or why none is left."""
    from ..llm.budget import Estimate

    limits: dict[str, Any] = {}
    for t in trackers:
        with t._lock:
            reason = t._check(Estimate(0))
            if reason is not None:
                return {}, reason
            for key, left in (
                ("max_calls", None if t.max_calls is None else t.max_calls - t.calls - t._reserved_calls),
                ("max_tokens", None if t.max_tokens is None else t.max_tokens - t.total_tokens - t._reserved_tokens),
                ("max_cost", None if t.max_cost is None else t.max_cost - t.cost - t._reserved_cost),
            ):
                if left is not None:
                    limits[key] = max(0, min(left, limits.get(key, left)))
    return limits, None


def _charge(trackers: tuple[Any, ...], usage: tuple[int, int, int, int, float]) -> None:
    calls, cached, prompt, completion, cost = usage
    for t in trackers:
        with t._lock:
            t.calls += calls
            t.cached_calls += cached
            t.prompt_tokens += prompt
            t.completion_tokens += completion
            t.cost += cost


def ray_map(
    fn: Callable[[Any], Any],
    items: Iterable[Any],
    *,
    concurrency: int | None,
    return_exceptions: bool,
    max_retries: int = 3,
) -> list[Any]:
    """``[fn(item) for item in items]`` as Ray tasks; same contract as ``execution.map``."""
    from ..llm.budget import active_trackers
    from ..llm.cache import get_cache
    from ..llm.registry import _ACTIVE, _state

    ray = ensure_ray()
    items = list(items)
    n = len(items)
    records = [TaskRecord(i) for i in range(n)]
    _LAST.set(records)
    if n == 0:
        return []
    out = Outbound()
    try:
        # The backend a call here would use, if chosen in code (use()/set_default()); else the
        # worker resolves its own from TRACE_OPT_LLM, as a process of its own would.
        common, _ = out.dump((fn, _ACTIVE.get() or _state["default"]), common=True)
        common_ref = ray.put(common)
        inbound = Inbound(out)
        settings = _settings(get_cache())
        trackers = active_trackers()
        task = _task(ray).options(max_retries=max_retries)
        results: list[Any] = [None] * n
        started = [False] * n
        pending: dict[Any, tuple[int, list[Any]]] = {}
        limit = concurrency or n
        next_i, failed, stop_reason = 0, False, None
        try:
            while next_i < n or pending:
                while next_i < n and len(pending) < limit and not (failed and not return_exceptions):
                    limits, stop_reason = _limits(trackers)
                    if stop_reason is not None:
                        break
                    payload, nodes = out.dump(items[next_i])
                    ref = task.remote(common_ref, payload, {**settings, "limits": limits})
                    pending[ref] = (next_i, nodes)
                    records[next_i].bytes_sent = len(payload)
                    records[next_i].bytes_common = len(common)
                    started[next_i] = True
                    next_i += 1
                if not pending:
                    break
                done, _ = ray.wait(list(pending), num_returns=1)
                for ref in done:
                    i, nodes = pending.pop(ref)
                    results[i] = _collect(ray, ref, inbound, nodes, records[i], trackers)
                    failed = failed or records[i].failed
                if stop_reason is not None and next_i < n:
                    break
        except BaseException:  # Ctrl-C (or any driver error): outstanding tasks must not keep running
            for ref in pending:
                ray.cancel(ref, force=True)
            raise
    finally:
        out.close()
    for i in range(n):
        if not started[i]:
            results[i] = (
                BudgetExceeded(f"item {i} not run: {stop_reason}", hint="raise the limit of track_usage(...)")
                if stop_reason is not None
                else _NotRun()
            )
    if not return_exceptions:
        for r in results:
            if isinstance(r, BaseException) and not isinstance(r, _NotRun):
                raise r
    return results


class _NotRun(Exception):
    """Placeholder for an item not started because an earlier one failed (raise mode only)."""


def _collect(ray: Any, ref: Any, inbound: Inbound, nodes: list[Any], record: TaskRecord, trackers: Any) -> Any:
    try:
        data = ray.get(ref)
    except ray.exceptions.RayError as exc:  # the worker died past its retries, or was cancelled
        record.failed = True
        return RemoteTaskError(
            f"task {record.index} failed on Ray: {type(exc).__name__}",
            remote_traceback=str(exc),
            hint="see the worker's log (`ray logs`); raise max_retries if workers are preempted",
        )
    env = inbound.load(data, nodes)
    record.bytes_received = len(data)
    record.parameter_version = env["version"]
    record.parameters = env["parameters"]
    record.node = env.get("node", "")
    record.host, record.pid, record.seconds, record.usage = env["host"], env["pid"], env["seconds"], env["usage"]
    _charge(trackers, env["usage"])
    if env["ok"]:
        return env["value"]
    record.failed = True
    enode = env.get("exception_node")
    if enode is not None:
        err = ExecutionError(enode)
        err.__cause__ = enode.exception
        return err
    error = env["error"]
    if hasattr(error, "add_note"):
        error.add_note(f"Remote traceback (Ray worker {env['host']} pid {env['pid']}):\n{env['traceback']}")
    return error
