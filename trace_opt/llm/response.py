"""What a backend call returns: text plus usage and cost, in a JSON-ready form for the cache."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["LLMResponse", "Usage", "estimate_tokens"]


@dataclass(frozen=True)
class Usage:
    """Token counts of one call (or a sum of calls).

    >>> Usage(10, 5) + Usage(1, 1)
    Usage(prompt_tokens=11, completion_tokens=6)
    """

    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        """Prompt plus completion tokens."""
        return self.prompt_tokens + self.completion_tokens

    def __add__(self, other: Usage) -> Usage:
        return Usage(self.prompt_tokens + other.prompt_tokens, self.completion_tokens + other.completion_tokens)


@dataclass(frozen=True)
class LLMResponse:
    """What one backend call produced.

    ``cost`` is in US dollars when the backend knows prices, else ``None``; ``cached`` says the
    reply came from the cache (so it cost nothing this time).

    >>> LLMResponse("hi", model="dummy").usage.total_tokens
    0
    """

    text: str
    model: str = ""
    finish_reason: str | None = "stop"
    usage: Usage = field(default_factory=Usage)
    cost: float | None = None
    cached: bool = False

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form (what the cache stores)."""
        d = dataclasses.asdict(self)
        d.pop("cached")
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], *, cached: bool = False) -> LLMResponse:
        """Inverse of :meth:`to_dict`."""
        usage = Usage(**d.get("usage") or {})
        return cls(
            text=d["text"],
            model=d.get("model", ""),
            finish_reason=d.get("finish_reason"),
            usage=usage,
            cost=d.get("cost"),
            cached=cached,
        )


def estimate_tokens(text: str) -> int:
    """A rough token count (~4 characters per token) for backends that report none."""
    return (len(text) + 3) // 4
