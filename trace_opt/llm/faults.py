"""Fault injection: a backend wrapper that fails the way real providers do.

Use it to check that a program or a training loop survives rate limits, timeouts and
dropped connections (they are retried by the LLM pipeline), and stops cleanly on permanent
errors. The wrapper answers for the backend it wraps: same identity, so the same cache
entries, so a run with faults and a run without them see the same replies.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Awaitable, Sequence
from typing import Any, Literal

from ..errors import AuthenticationError, LLMConnectionError, LLMTimeout, RateLimitError
from .base import LLM
from .request import Request
from .response import LLMResponse

__all__ = ["FaultyLLM"]

Fault = Literal["rate_limit", "timeout", "connection"]

_TRANSIENT: dict[str, Any] = {
    "rate_limit": lambda: RateLimitError("429 Too Many Requests (injected)", provider_message="rate limit (injected)"),
    "timeout": lambda: LLMTimeout("the request timed out (injected)"),
    "connection": lambda: LLMConnectionError("connection reset by peer (injected)", provider_message="ECONNRESET"),
}


class FaultyLLM(LLM):
    """Wrap ``inner`` so that a seeded fraction ``rate`` of attempts fails transiently, and
    optionally every attempt after ``permanent_after`` fails with a permanent error.

    ``injected`` counts the faults raised, ``attempts`` the attempts seen.

    >>> from trace_opt.llm import FunctionLLM, RetryPolicy
    >>> inner = FunctionLLM(lambda messages, **p: "ok", name="echo")
    >>> llm = FaultyLLM(inner, rate=0.5, seed=1, retry=RetryPolicy(max_attempts=10, sleep=lambda s: None))
    >>> [llm.complete(f"q{i}").text for i in range(3)]
    ['ok', 'ok', 'ok']
    """

    def __init__(
        self,
        inner: LLM,
        *,
        rate: float = 0.3,
        faults: Sequence[Fault] = ("rate_limit", "timeout", "connection"),
        permanent_after: int | None = None,
        seed: int | None = 0,
        **kwargs: Any,
    ) -> None:
        if not 0.0 <= rate < 1.0:
            raise ValueError(f"Invalid rate: {rate!r} (help: a fraction in [0, 1))")
        unknown = [f for f in faults if f not in _TRANSIENT]
        if unknown or not faults:
            raise ValueError(f"Invalid faults: {list(faults)!r} (help: choose from {sorted(_TRANSIENT)})")
        kwargs.setdefault("max_concurrency", None)
        super().__init__(**{**inner.defaults, **kwargs})
        self.inner = inner
        self.kind = inner.kind  # type: ignore[misc]
        self.rate = rate
        self.faults = list(faults)
        self.permanent_after = permanent_after
        self.rng = random.Random(seed)
        self.injected = 0
        self.attempts = 0
        self._lock = threading.Lock()

    @property
    def model(self) -> str:
        return self.inner.model

    def identity(self) -> dict[str, Any]:
        return self.inner.identity()

    def enforces(self, constraint: Any) -> bool:
        return self.inner.enforces(constraint)

    def _native_context_window(self) -> int | None:
        return self.inner.context_window

    def count_tokens(self, messages: Any) -> int:
        return self.inner.count_tokens(messages)

    def _maybe_fail(self) -> None:
        with self._lock:
            self.attempts += 1
            if self.permanent_after is not None and self.attempts > self.permanent_after:
                self.injected += 1
                raise AuthenticationError(
                    "401 invalid API key (injected)",
                    provider_message="Incorrect API key provided",
                    hint="set a valid key for the provider (e.g. OPENAI_API_KEY)",
                )
            if self.rng.random() < self.rate:
                self.injected += 1
                raise _TRANSIENT[self.rng.choice(self.faults)]()

    def _call(self, request: Request) -> LLMResponse | str:
        self._maybe_fail()
        return self.inner._call(request)

    def _acall(self, request: Request) -> Awaitable[LLMResponse | str]:
        self._maybe_fail()
        return self.inner._acall(request)
