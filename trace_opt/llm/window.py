"""Fitting a request into the model's context window, and cutting what a re-ask shows.

A small model's window (the embedded SmolLM2 holds 2,048 tokens) is easily overflowed by a
long prompt plus the reply it asks for, or by a re-ask that sends a long reply back. The
pipeline (``core``) fits every request that misses the cache with :func:`fit_context`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Protocol

from ..errors import ContextWindowExceeded
from ..secrets import logger
from .request import Message, Request

__all__ = ["excerpt", "fit_context"]

log = logger("trace_opt.llm")


class _Windowed(Protocol):
    """What fitting needs of a backend (an ``LLM``): named structurally, so this module, which
    the call pipeline below ``LLM`` uses, does not import the class it serves."""

    @property
    def context_window(self) -> int | None: ...

    def count_tokens(self, messages: Sequence[Message]) -> int: ...


def fit_context(llm: _Windowed, request: Request) -> tuple[Request, int | None]:
    """``request`` made to fit ``llm``'s context window, and its prompt tokens (``None`` if not counted).

    Raises ``ContextWindowExceeded`` (before any call) when the prompt leaves no room for a
    reply; caps ``max_tokens`` to the room left. Without a known window nothing is counted.

    >>> from trace_opt.llm import DummyLLM
    >>> llm = DummyLLM(context_window=100)
    >>> fitted, prompt = fit_context(llm, llm.request("x" * 200, max_tokens=90))
    >>> prompt, fitted.params["max_tokens"]
    (54, 46)
    """
    window = llm.context_window
    if window is None:
        return request, None
    prompt = llm.count_tokens(request.messages)
    prefill = request.params.get("prefill")
    if prefill:
        prompt += llm.count_tokens([{"role": "assistant", "content": str(prefill)}])
    room = window - prompt
    if room < 1:
        raise ContextWindowExceeded(
            f"{llm!r}: the prompt has {prompt} tokens but the context window holds {window}",
            hint="shorten the prompt (an optimizer's max_prompt_tokens) or use a model with a longer context",
        )
    max_tokens = request.params.get("max_tokens")
    if isinstance(max_tokens, int) and max_tokens > room:
        log.info("%r: max_tokens %d capped to %d, what the %d-token prompt leaves of %d", llm, max_tokens, room,
                 prompt, window)  # fmt: skip
        request = dataclasses.replace(request, params={**request.params, "max_tokens": room})
    return request, prompt


def excerpt(text: str, limit: int = 600) -> str:
    """``text`` cut in the middle to about ``limit`` characters: what a re-ask shows of a bad reply.

    A re-ask is about the problem, not the reply: a long (often truncated) reply sent back in
    full is what overflows a small context window.

    >>> excerpt("a" * 50 + "b" * 50, limit=40)
    'aaaaaaaaaaaaaaaaaaaa[... 60 characters cut ...]bbbbbbbbbbbbbbbbbbbb'
    """
    if len(text) <= limit:
        return text
    half = limit // 2
    return f"{text[:half]}[... {len(text) - 2 * half} characters cut ...]{text[len(text) - half:]}"
