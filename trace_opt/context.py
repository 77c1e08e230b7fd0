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

__all__ = ["CALL_HOOK", "INSTRUMENTS", "TRACING", "is_tracing", "stop_tracing", "tracing", "using"]

TRACING: ContextVar[bool] = ContextVar("trace_opt.tracing", default=True)

# A callable notified around every bundled call (the run recorder of trace_opt.record uses it).
# None in the common case, so the hot path pays one ContextVar.get().
CALL_HOOK: ContextVar[Any] = ContextVar("trace_opt.call_hook", default=None)


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
