"""Tracing state, kept in ``contextvars`` so threads and asyncio tasks each see their own.

A module global (as in Trace) leaks across threads and tasks: one task's ``stop_tracing``
silently disables another task's graph. Context variables are copied into every new task
and thread started through ``contextvars.copy_context``, and every manager here restores the
previous value on exit, so nesting works.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Any

__all__ = [
    "ASKED", "CALL_HOOK", "INSTRUMENTS", "LLMCall", "LLM_CALLS", "TRACING", "count_llm_call",
    "is_tracing", "llm_calls_since", "stop_tracing", "tracing", "using",
]  # fmt: skip

TRACING: ContextVar[bool] = ContextVar("trace_opt.tracing", default=True)

# A callable notified around every bundled call (the run recorder of trace_opt.record uses it).
# None in the common case, so the hot path pays one ContextVar.get().
CALL_HOOK: ContextVar[Any] = ContextVar("trace_opt.call_hook", default=None)


class LLMCall:
    """One LLM call made in a context: the value of ``LLM_CALLS`` after it, linked to the one before.

    Never changed once made; :func:`count_llm_call` sets a new one per call. ``serial`` numbers
    every call of the process in order, so a bundled call only reads the process-wide
    ``ASKED.serial`` before and after it ran (two attribute loads; a ``ContextVar`` set and reset
    per traced call would cost more than the rest of a small call) and, only when it changed,
    walks this context's chain back to that number (:func:`llm_calls_since`). Concurrent tasks
    and threads each see their own chain; calls made in tasks or threads the function starts
    run in copies of the context and are not counted by it.
    """

    __slots__ = ("depth", "model", "prev", "serial")

    def __init__(self, serial: int, model: str, prev: LLMCall | None) -> None:
        self.serial = serial
        self.model = model
        self.prev = prev
        self.depth: int = 0 if prev is None else prev.depth + 1


class _Asked:
    """The number of the latest LLM call in the process (``LLMCall.serial``), under a lock so
    that numbers only grow; read without it on the hot path (one attribute load)."""

    __slots__ = ("lock", "serial")

    def __init__(self) -> None:
        self.serial = 0
        self.lock = threading.Lock()


ASKED = _Asked()
# The LLM calls made in this context, newest first (None: none yet). trace_opt.llm sits above
# bundle, so the count lives here, below both.
LLM_CALLS: ContextVar[LLMCall | None] = ContextVar("trace_opt.llm_calls", default=None)
# A context's chain keeps at most this many calls; past it, it is copied to its newest half, so
# a bundled call is counted exactly up to KEEP // 2 LLM calls made while it ran.
KEEP = 20_000


def count_llm_call(model: str) -> None:
    """Record one LLM call to ``model`` in this context (``LLM.complete`` calls it)."""
    with ASKED.lock:
        ASKED.serial += 1
        serial = ASKED.serial
    prev = LLM_CALLS.get()
    if prev is not None and prev.depth >= KEEP:
        prev = _newest(prev, KEEP // 2)
    LLM_CALLS.set(LLMCall(serial, model, prev))


def _newest(chain: LLMCall, n: int) -> LLMCall:
    kept: list[LLMCall] = []
    at: LLMCall | None = chain
    while at is not None and len(kept) < n:
        kept.append(at)
        at = at.prev
    copy = None
    for c in reversed(kept):
        copy = LLMCall(c.serial, c.model, copy)
    assert copy is not None
    return copy


def llm_calls_since(serial: int) -> dict[str, int]:
    """The LLM calls this context made after call number ``serial`` (an ``ASKED.serial``
    read earlier), per model."""
    models: dict[str, int] = {}
    at = LLM_CALLS.get()
    while at is not None and at.serial > serial:
        models[at.model] = models.get(at.model, 0) + 1
        at = at.prev
    return models


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
