"""Drive a coroutine to completion from sync code, also from inside a running event loop.

Its own low module (stdlib only) because both sides need it: LLM backends run their native
async call for a sync ``complete``, and ``execution`` runs ``map``/``parallel`` this way --
while ``execution`` may dispatch to ``distributed``, whose workers make LLM calls. Kept here,
the LLM layer does not import ``execution``, and no import cycle runs through them.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Awaitable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

__all__ = ["run"]

R = TypeVar("R")


def run(awaitable: Awaitable[R]) -> R:
    """Run ``awaitable`` to completion from sync code -- also when this thread already runs a loop.

    A running loop cannot be re-entered, so then a helper thread runs a fresh loop, in a copy
    of the caller's context.

    >>> import asyncio, trace_opt as trace
    >>> trace.execution.run(asyncio.sleep(0, result="done"))
    'done'
    """

    async def main() -> R:
        return await awaitable

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(main())
    ctx = contextvars.copy_context()
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="trace_opt-loop") as helper:
        return helper.submit(ctx.run, asyncio.run, main()).result()
