"""The options a search run reads of its trainer, as a protocol below both (``run`` and
``trainer`` would otherwise import each other)."""

from __future__ import annotations

from typing import Protocol

__all__ = ["SearchOptions"]


class SearchOptions(Protocol):
    """What a run reads of its trainer's options (``SearchTrainer`` is one). A protocol here,
    so ``trainer`` (which starts runs) and ``run`` do not import each other."""

    k: int
    temperature: float | None
    max_feedback_tokens: int
    verbatim: int
    proposal_concurrency: int
    max_reasks: int | None
