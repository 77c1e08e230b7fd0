"""Which failures are worth retrying, and how long to wait between attempts.

Classification happens in one place (:func:`classify`): the backend first maps its own
exceptions onto the trace_opt tree (``LLM.translate_error``), then built-in timeouts and
connection errors become transient ones. Anything else -- a bug in a user's function, say --
propagates untouched and is never retried.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from ..errors import LLMConnectionError, LLMTimeout, RateLimitError, TransientLLMError

__all__ = ["RetryPolicy", "classify"]


def classify(exc: BaseException) -> BaseException:
    """Map generic timeouts / connection failures onto the LLM error tree; keep everything else."""
    if isinstance(exc, (TimeoutError, asyncio.TimeoutError)):
        return LLMTimeout(f"the LLM call timed out ({exc or 'no detail'})", hint="raise the timeout= of the backend")
    if isinstance(exc, ConnectionError):
        return LLMConnectionError(f"connection to the LLM failed: {exc}", provider_message=str(exc))
    return exc


@dataclass
class RetryPolicy:
    """Bounded exponential backoff with jitter for transient failures.

    Attempt ``k`` (1-based) that fails waits ``min(max_delay, base_delay * 2**(k-1))``, scaled
    by a random factor in ``[1 - jitter, 1]`` so that many clients do not retry in lockstep.
    A ``RateLimitError`` carrying ``retry_after`` waits at least that long.

    Args:
        max_attempts: total attempts including the first (1 disables retries).
        sleep: replaces ``time.sleep`` / ``asyncio.sleep`` (tests pass a fake clock).

    >>> p = RetryPolicy(max_attempts=3, base_delay=1.0, jitter=0.0)
    >>> [p.delay(k) for k in (1, 2)]
    [1.0, 2.0]
    """

    max_attempts: int = 4
    base_delay: float = 0.5
    max_delay: float = 30.0
    jitter: float = 0.5
    sleep: Callable[[float], None | Awaitable[None]] | None = None
    rng: random.Random = field(default_factory=random.Random, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(f"Invalid max_attempts: {self.max_attempts!r} (help: 1 means no retries)")
        if self.base_delay < 0 or self.max_delay < 0:
            raise ValueError(f"Invalid delays: base={self.base_delay!r} max={self.max_delay!r} (help: use >= 0)")
        if not 0.0 <= self.jitter <= 1.0:
            raise ValueError(f"Invalid jitter: {self.jitter!r} (help: a fraction in [0, 1])")

    def delay(self, attempt: int, error: BaseException | None = None) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
        d = min(self.max_delay, self.base_delay * (2 ** (attempt - 1)))
        d *= 1.0 - self.jitter * self.rng.random()
        retry_after = getattr(error, "retry_after", None)
        if isinstance(error, RateLimitError) and isinstance(retry_after, (int, float)):
            d = max(d, float(retry_after))
        return d

    def should_retry(self, error: BaseException, attempt: int) -> bool:
        """Whether a failure of attempt ``attempt`` deserves another try."""
        return isinstance(error, TransientLLMError) and attempt < self.max_attempts
