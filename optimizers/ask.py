"""One exchange with the optimizer's LLM: ask, read the reply, ask again with the problem.

Where the backend enforces constraints while decoding (the local llama.cpp model), the reply
is decoded under the JSON schema, so it parses by construction; other backends get the
schema as text in the prompt and their replies are read leniently (``parsing``). Either way a
reply that cannot be read, or whose suggestions cannot be used, is sent back with the reason
-- at most ``max_reasks`` times.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from trace_opt.errors import ConstraintViolation, ReplyParseError
from trace_opt.llm import LLM

from . import templates

__all__ = ["ask"]

log = logging.getLogger("optimizers")

T = TypeVar("T")
#: Reads a reply: returns (value, complaint). A complaint ("" if none) asks again but keeps
#: the value as a fallback; a ValueError means the reply is unusable.
Reader = Callable[[str], "tuple[T, str]"]


def ask(
    llm: LLM,
    messages: Sequence[dict[str, Any]],
    read: Reader[T],
    *,
    schema: Any = None,
    max_reasks: int = 2,
    params: dict[str, Any] | None = None,
    exchanges: list[dict[str, Any]] | None = None,
) -> T:
    """The value ``read`` makes of the first good reply (or the last usable one).

    Raises ``ReplyParseError`` when no reply could be read at all. Each attempt is appended to
    ``exchanges`` as ``{"messages": [...], "reply": text}`` for inspection.
    """
    constraint = schema if schema is not None and llm.enforces(schema) else None
    convo = [dict(m) for m in messages]
    fallback: tuple[T] | None = None
    problem = ""
    text = ""
    for attempt in range(max_reasks + 1):
        try:
            text = llm.complete(convo, constraint=constraint, **(params or {})).text
        except ConstraintViolation as e:  # decoding stopped before the grammar completed
            text = str(e.output or "")
            problem = f"the reply is not complete JSON ({e})"
        else:
            try:
                value, problem = read(text)
            except ValueError as e:
                problem = str(e)
            else:
                fallback = (value,)
        if exchanges is not None:
            exchanges.append({"messages": list(convo), "reply": text, "problem": problem})
        if fallback is not None and not problem:
            return fallback[0]
        log.info("optimizer reply unusable (attempt %d/%d): %s", attempt + 1, max_reasks + 1, problem)
        if attempt < max_reasks:
            reask = templates.render("reask", problem=problem)
            convo = [*convo, {"role": "assistant", "content": text}, {"role": "user", "content": reask}]
    if fallback is None:
        raise ReplyParseError(
            f"{llm!r} gave no usable reply in {max_reasks + 1} attempt(s): {problem}",
            reply=text,
            hint="use a stronger model, raise max_reasks, or check the prompt with propose().messages",
        )
    return fallback[0]
