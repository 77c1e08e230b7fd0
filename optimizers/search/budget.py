"""What a search may spend: LLM calls, tokens, dollars and wall time.

Calls, tokens and dollars are enforced by ``trace_opt.llm.track_usage``, which refuses a call
*before* it would overspend, so a search never makes one call too many. Wall time cannot be
enforced inside a running call, so the search does not *start* a unit of work (one proposal
sample, one candidate evaluation) that it expects to end after the deadline: the expected
duration is the mean of the units of that kind seen so far.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Literal

from trace_opt.errors import BudgetExceeded
from trace_opt.llm import UsageTracker, track_usage

__all__ = ["Budget", "Clock"]

Unit = Literal["propose", "evaluate"]


@dataclass(frozen=True)
class Budget:
    """Limits for one search run; ``None`` means no limit.

    ``calls`` counts provider calls of every LLM used inside the run -- the optimizer's and the
    agent's -- since both are paid for; cached answers are free. ``clock`` is the time source
    of ``seconds`` (tests pass a fake one).

    >>> Budget(calls=20, seconds=600)
    Budget(calls=20, tokens=None, cost=None, seconds=600)
    >>> Budget(calls=-1)
    Traceback (most recent call last):
    ...
    ValueError: Invalid calls: -1
    help: a limit >= 0, or None for no limit
    """

    calls: int | None = None
    tokens: int | None = None
    cost: float | None = None
    seconds: float | None = None
    clock: Callable[[], float] = field(default=time.monotonic, repr=False, compare=False)

    def __post_init__(self) -> None:
        for name in ("calls", "tokens", "cost", "seconds"):
            value = getattr(self, name)
            if value is None:
                continue
            integral = name in ("calls", "tokens")
            bad_type = isinstance(value, bool) or not isinstance(value, int if integral else (int, float))
            if bad_type or value < 0 or (isinstance(value, float) and math.isnan(value)):
                raise ValueError(f"Invalid {name}: {value!r}\nhelp: a limit >= 0, or None for no limit")

    @contextlib.contextmanager
    def track(self) -> Iterator[tuple[UsageTracker, Clock]]:
        """The usage tracker enforcing the LLM limits, and the clock enforcing the time limit."""
        with track_usage(max_calls=self.calls, max_tokens=self.tokens, max_cost=self.cost) as usage:
            yield usage, Clock(self.seconds, self.clock)


class Clock:
    """A wall-time budget: ``check(unit)`` before work, ``timed(unit)`` around it.

    >>> clock = Clock(None)               # no limit: every check passes
    >>> clock.check("propose"); clock.elapsed() >= 0
    True
    """

    def __init__(self, seconds: float | None, now: Callable[[], float] = time.monotonic) -> None:
        self.seconds = seconds
        self._now = now
        self._start = now()
        self._spent: dict[str, tuple[int, float]] = {}

    def elapsed(self) -> float:
        """Seconds since the run started."""
        return self._now() - self._start

    def expected(self, unit: Unit) -> float:
        """Mean duration of the ``unit``s timed so far (0 before the first)."""
        n, total = self._spent.get(unit, (0, 0.0))
        return total / n if n else 0.0

    def check(self, unit: Unit) -> None:
        """Raise ``BudgetExceeded`` if a ``unit`` started now would likely end after the deadline."""
        if self.seconds is None:
            return
        elapsed, need = self.elapsed(), self.expected(unit)
        if elapsed + need > self.seconds:
            raise BudgetExceeded(
                f"time budget of {self.seconds:g}s would be exceeded ({elapsed:.1f}s spent, "
                f"a {unit} takes ~{need:.1f}s)",
                hint="raise Budget(seconds=...) or lower k / the batch size",
            )

    @contextlib.contextmanager
    def timed(self, unit: Unit) -> Iterator[None]:
        """Check the deadline, then time the block as one ``unit``."""
        self.check(unit)
        start = self._now()
        try:
            yield
        finally:
            n, total = self._spent.get(unit, (0, 0.0))
            self._spent[unit] = (n + 1, total + self._now() - start)
