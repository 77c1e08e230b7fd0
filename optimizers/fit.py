"""Prompts that fit: a budget in the backend's own tokens, never more than its context holds.

Renderers (``render``) lay out sections against a cheap character estimate, which is fast
enough to call for every operation of a large graph but can be off by a factor of two for
code or non-English text. :func:`fit_prompt` measures the rendered messages with the
backend's tokenizer (``LLM.count_tokens``: llama.cpp's for the local model, litellm's
``token_counter`` for hosted ones) and renders again with a proportionally smaller budget
until they fit. :func:`prompt_budget` turns ``max_prompt_tokens`` into what the context
window leaves after the reply and a re-ask.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from trace_opt.llm import LLM

from .ask import REASK_EXCERPT_CHARS

__all__ = ["REASK_RESERVE", "fit_prompt", "prompt_budget", "reply_tokens"]

log = logging.getLogger("optimizers")

T = TypeVar("T")
#: tokens kept free for a re-ask: an excerpt of the bad reply, the reason and the instruction
REASK_RESERVE = 2 * REASK_EXCERPT_CHARS // 3 + 80


def reply_tokens(llm: LLM, group: dict[str, Any]) -> int:
    """The tokens a reply may take: the group's ``max_tokens``, else the backend's default,
    else a quarter of the context window (at most 4,096)."""
    given = group.get("max_tokens") or (group.get("llm_params") or {}).get("max_tokens") or llm.defaults.get("max_tokens")
    if isinstance(given, int) and given > 0:
        return given
    window = llm.context_window
    return min(4096, window // 4) if window else 4096


def prompt_budget(llm: LLM, group: dict[str, Any], max_prompt_tokens: int | None = None) -> int | None:
    """``max_prompt_tokens`` (``None``: no limit of its own), lowered to what the context window
    leaves after the reply and a re-ask; ``None`` when neither limits the prompt.

    >>> from trace_opt.llm import DummyLLM
    >>> prompt_budget(DummyLLM(context_window=2048), {"max_tokens": 256}, 8000)
    1446
    """
    window = llm.context_window
    if window is None:
        return max_prompt_tokens
    room = window - reply_tokens(llm, group) - REASK_RESERVE
    if room < 64:
        log.warning("%r: a %d-token context leaves no room for a prompt after the reply; lower max_tokens", llm, window)
        room = max(16, window // 2)
    return room if max_prompt_tokens is None else min(max_prompt_tokens, room)


def fit_prompt(
    llm: LLM,
    render: Callable[[int], tuple[Sequence[dict[str, Any]], T]],
    budget: int,
    *,
    tries: int = 4,
) -> tuple[list[dict[str, Any]], T]:
    """``render(estimated_budget)`` re-run with a smaller estimate until the messages count at
    most ``budget`` of ``llm``'s tokens (or ``tries`` renders were made: the last is returned,
    and a call that still does not fit the context is refused by the LLM pipeline).
    """
    estimate = budget
    messages, extra = render(estimate)
    for _ in range(tries - 1):
        real = llm.count_tokens(messages)
        if real <= budget:
            break
        shrunk = max(1, int(estimate * budget / real * 0.95))
        log.info("prompt of %d tokens over its budget of %d: rendering again within %d estimated", real, budget, shrunk)
        estimate = shrunk
        messages, extra = render(estimate)
    return [dict(m) for m in messages], extra
