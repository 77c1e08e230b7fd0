"""Per-backend concurrency and requests-per-minute limits, shared by threads and asyncio tasks.

A ``threading.Semaphore`` would block an event loop and an ``asyncio.Semaphore`` cannot be used
from threads, yet one backend is often called from both (``parallel`` mixes them). So the
limiter itself never blocks: :meth:`Limiter.try_acquire` either takes a slot or says how long
to wait and registers a wake-up callback, and the sync / async drivers do the waiting.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from typing import Any

__all__ = ["Limiter"]


class Limiter:
    """At most ``max_concurrency`` calls in flight and ``rpm`` calls started per minute.

    ``None`` means no limit; a limiter with neither limit costs nothing.

    >>> lim = Limiter(max_concurrency=1)
    >>> lim.try_acquire(lambda: None) is None      # got the slot
    True
    >>> lim.try_acquire(lambda: None)              # full: wait to be woken
    inf
    >>> lim.release()
    """

    def __init__(
        self,
        max_concurrency: int | None = None,
        rpm: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_concurrency is not None and max_concurrency < 1:
            raise ValueError(f"Invalid max_concurrency: {max_concurrency!r} (help: an int >= 1, or None)")
        if rpm is not None and rpm <= 0:
            raise ValueError(f"Invalid rpm: {rpm!r} (help: requests per minute > 0, or None)")
        self.max_concurrency = max_concurrency
        self.rpm = rpm
        self._clock = clock
        self._lock = threading.Lock()
        self._active = 0
        self._waiters: list[Callable[[], None]] = []
        # token bucket: capacity 1 burst-free spacing would be too strict; allow a burst of rpm/60+1
        self._capacity = max(1.0, (rpm or 0) / 60.0)
        self._tokens = self._capacity
        self._stamp = clock()

    def __getstate__(self) -> dict[str, Any]:
        """A copy has the same limits and its own state: a new lock, no call in flight, no
        waiter of the original (they wait for the original's slots)."""
        state = dict(self.__dict__)
        for key in ("_lock", "_waiters"):
            del state[key]
        state["_active"] = 0
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()
        self._waiters = []

    @property
    def active(self) -> bool:
        """Whether any limit is configured."""
        return self.max_concurrency is not None or self.rpm is not None

    @property
    def in_flight(self) -> int:
        """Calls holding a slot right now."""
        return self._active

    def try_acquire(self, wake: Callable[[], None]) -> float | None:
        """Take a slot (return ``None``) or return seconds to wait before trying again.

        ``inf`` means "wait until ``wake`` is called" (a slot will be released).
        """
        with self._lock:
            if self.max_concurrency is not None and self._active >= self.max_concurrency:
                self._waiters.append(wake)
                return math.inf
            if self.rpm is not None:
                now = self._clock()
                self._tokens = min(self._capacity, self._tokens + (now - self._stamp) * self.rpm / 60.0)
                self._stamp = now
                if self._tokens < 1.0:
                    return (1.0 - self._tokens) * 60.0 / self.rpm
                self._tokens -= 1.0
            self._active += 1
            return None

    def release(self) -> None:
        """Free a slot and wake every waiter (they race for it; losers wait again)."""
        with self._lock:
            self._active = max(0, self._active - 1)
            waiters, self._waiters = self._waiters, []
        for wake in waiters:
            wake()
