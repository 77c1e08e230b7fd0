"""Usage and cost accounting, and budgets that refuse a call *before* it overspends.

Every call made inside ``with track_usage() as u:`` is added to ``u`` (and to any enclosing
tracker), including calls made from threads and tasks started by ``trace_opt.parallel`` /
``map``, because the active trackers live in a context variable that those copy.

A tracker with limits is a budget. Before each provider call it *reserves* the call's
estimated size -- prompt tokens plus ``max_tokens`` if given, and the estimated cost if the
backend knows prices -- and raises ``BudgetExceeded`` if that would cross a limit. After the
call the reservation is replaced by the real usage. Reservations are taken under a lock, so
concurrent calls cannot jointly overspend. Without ``max_tokens`` the completion size is unknown
beforehand, so one call may overshoot by its completion; set ``max_tokens`` for a strict bound.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass

from ..errors import BudgetExceeded
from .response import LLMResponse, Usage

__all__ = ["Estimate", "UsageTracker", "active_trackers", "track_usage"]

_TRACKERS: ContextVar[tuple[UsageTracker, ...]] = ContextVar("trace_opt.llm.trackers", default=())


@dataclass(frozen=True)
class Estimate:
    """The size a call is expected to have, reserved against budgets before it runs."""

    tokens: int
    cost: float = 0.0


class UsageTracker:
    """Sums calls, tokens and dollars; optionally a budget (``max_calls``/``max_tokens``/``max_cost``).

    ``calls`` counts provider calls; ``cached_calls`` counts answers served from the cache,
    which cost nothing and are not charged against the budget.

    >>> from trace_opt.llm import DummyLLM, track_usage
    >>> with track_usage(max_calls=1) as usage:
    ...     _ = DummyLLM(["a", "b"]).complete("x")
    >>> usage.calls
    1
    """

    def __init__(
        self, *, max_calls: int | None = None, max_tokens: int | None = None, max_cost: float | None = None
    ) -> None:
        for name, value in (("max_calls", max_calls), ("max_tokens", max_tokens), ("max_cost", max_cost)):
            if value is not None and value < 0:
                raise ValueError(f"Invalid {name}: {value!r} (help: a limit >= 0, or None for no limit)")
        self.max_calls = max_calls
        self.max_tokens = max_tokens
        self.max_cost = max_cost
        self.calls = 0
        self.cached_calls = 0
        self.prompt_tokens = 0
        self.completion_tokens = 0
        self.cost = 0.0
        self._lock = threading.Lock()
        self._reserved_calls = 0
        self._reserved_tokens = 0
        self._reserved_cost = 0.0

    @property
    def total_tokens(self) -> int:
        """Prompt plus completion tokens of provider calls."""
        return self.prompt_tokens + self.completion_tokens

    @property
    def usage(self) -> Usage:
        """Token totals as a :class:`Usage`."""
        return Usage(self.prompt_tokens, self.completion_tokens)

    def _check(self, est: Estimate) -> str | None:
        if self.max_calls is not None and self.calls + self._reserved_calls + 1 > self.max_calls:
            return f"call budget of {self.max_calls} would be exceeded ({self.calls} made)"
        if self.max_tokens is not None and self.total_tokens + self._reserved_tokens + est.tokens > self.max_tokens:
            return (
                f"token budget of {self.max_tokens} would be exceeded "
                f"({self.total_tokens} used, next call needs ~{est.tokens})"
            )
        if self.max_cost is not None and self.cost + self._reserved_cost + est.cost > self.max_cost:
            return f"cost budget of ${self.max_cost:.4f} would be exceeded (${self.cost:.4f} spent)"
        return None

    def _reserve(self, est: Estimate) -> None:
        self._reserved_calls += 1
        self._reserved_tokens += est.tokens
        self._reserved_cost += est.cost

    def _unreserve(self, est: Estimate) -> None:
        self._reserved_calls -= 1
        self._reserved_tokens -= est.tokens
        self._reserved_cost -= est.cost

    def _add(self, response: LLMResponse) -> None:
        if response.cached:
            self.cached_calls += 1
            return
        self.calls += 1
        self.prompt_tokens += response.usage.prompt_tokens
        self.completion_tokens += response.usage.completion_tokens
        self.cost += response.cost or 0.0

    def __repr__(self) -> str:
        return (
            f"UsageTracker(calls={self.calls}, cached_calls={self.cached_calls}, "
            f"prompt_tokens={self.prompt_tokens}, completion_tokens={self.completion_tokens}, cost={self.cost:.6f})"
        )


def active_trackers() -> tuple[UsageTracker, ...]:
    """The trackers every call in this context is charged to (outermost first)."""
    return _TRACKERS.get()


def reserve(est: Estimate) -> tuple[UsageTracker, ...]:
    """Reserve ``est`` on every active tracker, or raise ``BudgetExceeded`` touching none."""
    trackers = _TRACKERS.get()
    taken: list[UsageTracker] = []
    try:
        for t in trackers:
            with t._lock:
                reason = t._check(est)
                if reason is not None:
                    raise BudgetExceeded(reason, hint="raise the limit of track_usage(...) or make fewer/smaller calls")
                t._reserve(est)
            taken.append(t)
    except BudgetExceeded:
        for t in taken:
            with t._lock:
                t._unreserve(est)
        raise
    return trackers


def settle(trackers: tuple[UsageTracker, ...], est: Estimate | None, response: LLMResponse | None) -> None:
    """Replace a reservation by the real usage (``response=None``: the call failed, just release)."""
    for t in trackers:
        with t._lock:
            if est is not None:
                t._unreserve(est)
            if response is not None:
                t._add(response)


@contextlib.contextmanager
def track_usage(
    *, max_calls: int | None = None, max_tokens: int | None = None, max_cost: float | None = None
) -> Iterator[UsageTracker]:
    """Sum the usage of every LLM call in the block; with limits, act as a budget.

    >>> from trace_opt.llm import DummyLLM, track_usage
    >>> from trace_opt.errors import BudgetExceeded
    >>> llm = DummyLLM(["a"] * 5)
    >>> with track_usage(max_calls=2):
    ...     try:
    ...         for i in range(5):
    ...             reply = llm.complete("q")
    ...     except BudgetExceeded:
    ...         pass
    >>> len(llm.calls)
    2
    """
    tracker = UsageTracker(max_calls=max_calls, max_tokens=max_tokens, max_cost=max_cost)
    token = _TRACKERS.set((*_TRACKERS.get(), tracker))
    try:
        yield tracker
    finally:
        _TRACKERS.reset(token)
