"""One exchange with the optimizer's LLM: ask, read the reply, ask again with the problem.

Where the backend enforces constraints while decoding (the local llama.cpp model), the reply
is decoded under the JSON schema, so it parses by construction; other backends get the
schema as text in the prompt and their replies are read leniently (``parsing``). Either way a
reply that cannot be read, or whose suggestions cannot be used, is sent back with the reason
-- at most ``max_reasks`` times.

Three rules keep the loop working on real models:

- **Every call has a sample identity** (``seed=0/step=3/sample=1/attempt=0``, sent as the
  request's ``rollout``): the run's seed, the optimizer step, the search's sample and the
  re-ask attempt, set with :func:`sample_identity` by ``Optimizer.propose``, ``train`` and the
  search trainers. A backend function sees only ``sample_id`` (the search's sample number, or
  ``None``); the identity is part of the cache key (and of the local model's seed), so a step that renders the same prompt as an earlier one draws a new
  sample, while the same seeded run repeated is answered from the cache. At temperature 0 the
  identity is left out: a greedy reply is a function of the prompt, so an identical prompt is
  answered from the cache for free instead of paying for the same answer again (a step whose
  prompt repeats an earlier one then changes nothing -- raise the temperature or
  ``memory_size`` so that steps differ).
- **A re-ask carries the problem, not the reply**: the original messages, a short excerpt of
  the bad reply, and the reason -- never the growing conversation, which overflows a small
  context window.
- **A reply the decoder's check refused is still read leniently** before it is judged
  unusable (llama.cpp's JSON grammar lets raw newlines into strings; ``parsing`` accepts them).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator, Sequence
from contextvars import ContextVar
from typing import Any, TypeVar

from trace_opt.errors import ConstraintViolation, ReplyParseError
from trace_opt.llm import LLM

from . import templates

__all__ = ["ask", "current_identity", "sample_identity"]

log = logging.getLogger("optimizers")

T = TypeVar("T")
#: Reads a reply: returns (value, complaint). A complaint ("" if none) asks again but keeps
#: the value as a fallback; a ValueError means the reply is unusable.
Reader = Callable[[str], "tuple[T, str]"]

_IDENTITY: ContextVar[dict[str, Any]] = ContextVar("optimizers.sample_identity", default={})
_ORDER = ("seed", "step", "retry", "sample", "attempt")
#: characters of a bad reply shown in a re-ask (its head and its tail)
REASK_EXCERPT_CHARS = 400


@contextlib.contextmanager
def sample_identity(**parts: Any) -> Iterator[dict[str, Any]]:
    """Add ``parts`` (``seed=``, ``step=``, ``sample=``) to the identity of every optimizer call
    made in this block (and in the threads and tasks it starts); restored on exit.

    >>> with sample_identity(seed=0), sample_identity(step=2) as ident:
    ...     ident
    {'seed': 0, 'step': 2}
    """
    token = _IDENTITY.set({**_IDENTITY.get(), **{k: v for k, v in parts.items() if v is not None}})
    try:
        yield _IDENTITY.get()
    finally:
        _IDENTITY.reset(token)


def current_identity(attempt: int | None = None) -> str:
    """The identity of a call made now: ``"seed=0/step=3/attempt=1"`` (parts in a fixed order).

    >>> with sample_identity(step=3, sample=1):
    ...     current_identity(attempt=0)
    'step=3/sample=1/attempt=0'
    """
    parts = {**_IDENTITY.get(), **({} if attempt is None else {"attempt": attempt})}
    keys = [k for k in _ORDER if k in parts] + sorted(k for k in parts if k not in _ORDER)
    return "/".join(f"{k}={parts[k]}" for k in keys)


def _identity(llm: LLM, params: dict[str, Any], attempt: int) -> tuple[Any, str | None]:
    """The call's ``(sample_id, rollout)``: the search's sample (or one given in ``llm_params``),
    and the identity string -- ``None`` at temperature 0 (see the module docstring)."""
    explicit = params.pop("sample_id", None)
    sample = explicit if explicit is not None else _IDENTITY.get().get("sample")
    if llm.effective_params(params).get("temperature") == 0:
        return sample, None
    with sample_identity(sample=sample):
        return sample, current_identity(attempt)


def _excerpt(text: str) -> str:
    half = REASK_EXCERPT_CHARS // 2
    if len(text) <= REASK_EXCERPT_CHARS:
        return text
    return f"{text[:half]} [... {len(text) - 2 * half} characters not shown ...] {text[len(text) - half:]}"


def _reask(messages: list[dict[str, Any]], reply: str, problem: str) -> list[dict[str, Any]]:
    """The original ``messages``, an excerpt of the bad ``reply`` and the ``problem`` (cut too)."""
    reask = templates.render("reask", problem=_excerpt(problem))
    shown = [{"role": "assistant", "content": _excerpt(reply)}] if reply.strip() else []
    return [*messages, *shown, {"role": "user", "content": reask}]


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

    Raises ``ReplyParseError`` when no reply could be read at all; LLM errors (a call that
    failed after its retries, a prompt too long for the context) propagate -- ``train`` and
    the search trainers log them as a skipped step. Each attempt is appended to
    ``exchanges`` as ``{"messages": [...], "reply": text, "problem": ..., "rollout": ...}``.
    """
    constraint = schema if schema is not None and llm.enforces(schema) else None
    base = [dict(m) for m in messages]
    convo = base
    fallback: tuple[T] | None = None
    problem = ""
    text = ""
    for attempt in range(max_reasks + 1):
        call = dict(params or {})
        sample_id, rollout = _identity(llm, call, attempt)
        try:
            text = llm.complete(convo, constraint=constraint, sample_id=sample_id, rollout=rollout, **call).text
        except ConstraintViolation as e:  # the decoder's own check refused the reply
            text = str(e.output or "")
            reading = _read(read, text)  # a lenient reader may still accept it
            if not isinstance(reading, tuple):
                reading = f"the reply is not complete JSON ({str(e).splitlines()[0]})"
        else:
            reading = _read(read, text)
        if isinstance(reading, tuple):
            value, problem = reading
            fallback = (value,)
        else:
            problem = reading
        if exchanges is not None:
            exchanges.append({"messages": list(convo), "reply": text, "problem": problem, "rollout": rollout})
        if isinstance(reading, tuple) and not problem:
            return fallback[0]  # type: ignore[index]
        log.info("optimizer reply unusable (attempt %d/%d): %s", attempt + 1, max_reasks + 1, problem)
        if attempt < max_reasks:
            convo = _reask(base, text, problem)
    if fallback is None:
        raise ReplyParseError(
            f"{llm!r} gave no usable reply in {max_reasks + 1} attempt(s): {problem}",
            reply=text,
            hint="use a stronger model, raise max_reasks, or check the prompt with propose().messages",
        )
    return fallback[0]


def _read(read: Reader[T], text: str) -> tuple[T, str] | str:
    """``read(text)``, or the reason it is unusable ("" for an empty reply)."""
    if not text.strip():
        return "the reply is empty"
    try:
        return read(text)
    except ValueError as e:
        return str(e)
