"""Tracing state, kept in ``contextvars`` so threads and asyncio tasks each see their own.

A module global (as in Trace) leaks across threads and tasks: one task's ``stop_tracing``
silently disables another task's graph. Context variables are copied into every new task
and thread started through ``contextvars.copy_context``, and every manager here restores the
previous value on exit, so nesting works.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Any

__all__ = [
    "CALL_HOOK", "INSTRUMENTS", "LLM_CALLS", "TRACING", "LLMCalls", "count_llm_call", "is_tracing", "llm_calls_since",
    "stop_tracing", "tracing", "using",
]  # fmt: skip

TRACING: ContextVar[bool] = ContextVar("trace_opt.tracing", default=True)

# A callable notified around every bundled call (the run recorder of trace_opt.record uses it).
# None in the common case, so the hot path pays one ContextVar.get().
CALL_HOOK: ContextVar[Any] = ContextVar("trace_opt.call_hook", default=None)



class LLMCalls:
    """How many LLM calls this context has made so far, per model: the value of ``LLM_CALLS``.

    Never changed once made: each call sets a new one (:func:`count_llm_call`), so a bundled
    call learns whether the LLM was asked while it ran by comparing two ``LLM_CALLS.get()``
    results by identity -- two reads, no ``set``/``reset`` per traced call (a set and reset cost
    as much as the rest of a small bundled call). Concurrent tasks each see their own count;
    calls made in tasks or threads the function starts run in copies of the context and are
    not counted by it.
    """

    __slots__ = ("models", "n")

    def __init__(self, n: int, models: dict[str, int]) -> None:
        self.n = n
        self.models = models  # model -> calls; a fresh dict per instance, small (one key per model)


# What the LLM layer has been asked in this context (None: nothing yet). trace_opt.llm sits above
# bundle, so the count lives here, below both.
LLM_CALLS: ContextVar[LLMCalls | None] = ContextVar("trace_opt.llm_calls", default=None)


def count_llm_call(model: str) -> None:
    """Record one LLM call to ``model`` in this context (``LLM.complete`` calls it)."""
    seen = LLM_CALLS.get()
    models = dict(seen.models) if seen is not None else {}
    models[model] = models.get(model, 0) + 1
    LLM_CALLS.set(LLMCalls((seen.n if seen is not None else 0) + 1, models))


def llm_calls_since(before: LLMCalls | None, after: LLMCalls) -> dict[str, int]:
    """The LLM calls made between two readings of ``LLM_CALLS``, per model."""
    if before is None:
        return dict(after.models)
    return {m: c - before.models.get(m, 0) for m, c in after.models.items() if c > before.models.get(m, 0)}


class _Instruments:
    """Process-wide instrumentation (``trace_opt.telemetry.instrument``), or ``None`` when off.

    This one piece of state is deliberately not a context variable: instrumenting is a
    process-wide decision, like OpenTelemetry's own global tracer provider, and it must reach
    threads and tasks that already exist. Hot paths read ``INSTRUMENTS.active`` -- one attribute
    load -- so an uninstrumented program pays nothing else.
    """

    __slots__ = ("active", "runs")

    def __init__(self) -> None:
        self.active: Any = None
        # Observers of training runs (``optimizers.observe``): objects with
        # ``start_run(trainer, optimizer, options)``; MLflow's autolog adds one.
        self.runs: list[Any] = []


INSTRUMENTS = _Instruments()


def is_tracing() -> bool:
    """Whether traced calls in this context record graph edges."""
    return TRACING.get()


@contextlib.contextmanager
def using(var: ContextVar[Any], value: Any) -> Iterator[Any]:
    """Set ``var`` to ``value`` for the ``with`` block, restoring the previous value after."""
    token = var.set(value)
    try:
        yield value
    finally:
        var.reset(token)


def stop_tracing() -> contextlib.AbstractContextManager[bool]:
    """Run a block without recording graph edges (e.g. evaluation), like ``torch.no_grad``.

    Traced calls still return nodes, but with no parents, so ``backward`` does not reach
    anything computed inside the block.

    >>> import trace_opt as trace
    >>> with trace.stop_tracing():
    ...     y = trace.node(1) + 1
    >>> y.parents
    ()
    """
    return using(TRACING, False)


def tracing() -> contextlib.AbstractContextManager[bool]:
    """Re-enable tracing inside a ``stop_tracing`` block."""
    return using(TRACING, True)
