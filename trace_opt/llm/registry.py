"""Which backend answers when a program does not say: explicit > ``use()`` > default > env > local.

Programs never name a backend; the caller picks one around them, so swapping a hosted model
for the local one (or a ``DummyLLM`` in tests) never means editing the program.

Resolution order of :func:`get_llm`:
1. an explicit ``llm=`` argument;
2. the innermost ``with use(backend):`` block (a context variable, so per thread / task);
3. :func:`set_default` (process-wide, for scripts and notebooks);
4. the ``TRACE_OPT_LLM`` environment variable: a litellm model string, or ``local[:path]``;
5. the embedded :class:`LocalLLM` (SmolLM2-135M-Instruct).

Anywhere a backend is accepted, a string is too: ``"local"``, ``"local:/path/model.gguf"``,
or a litellm model such as ``"openai/gpt-4o-mini"``.
"""

from __future__ import annotations

import os
import threading
from contextlib import AbstractContextManager
from contextvars import ContextVar

from ..context import using
from .base import LLM, configure_factory
from .litellm_backend import LiteLLM
from .local import LocalLLM

__all__ = ["BackendSpec", "get_llm", "resolve", "set_default", "use"]

BackendSpec = LLM | str

_ACTIVE: ContextVar[LLM | None] = ContextVar("trace_opt.llm.active", default=None)
# set_default() is deliberately process-wide (threads started earlier must see it too), unlike use().
_lock = threading.Lock()
_state: dict[str, LLM | None] = {"default": None, "fallback": None}
_from_env: dict[str, LLM] = {}


def resolve(spec: BackendSpec) -> LLM:
    """Turn a backend or a backend string into an :class:`LLM`.

    >>> from trace_opt.llm import resolve
    >>> resolve("openai/gpt-4o-mini")
    LiteLLM(model='openai/gpt-4o-mini')
    """
    if isinstance(spec, LLM):
        return spec
    if isinstance(spec, str) and spec.strip():
        spec = spec.strip()
        if spec == "local" or spec.startswith("local:"):
            path = spec.partition(":")[2] or None
            return LocalLLM(path)
        return LiteLLM(spec)
    raise TypeError(
        f"Invalid LLM backend: {spec!r}\n"
        "help: pass an LLM instance (LiteLLM, LocalLLM, FunctionLLM, DummyLLM) or a model string like 'openai/gpt-4o'"
    )


def use(backend: BackendSpec) -> AbstractContextManager[LLM]:
    """Answer every LLM call in the block with ``backend`` (restored on exit; nests; per thread/task).

    >>> import trace_opt.llm as llm
    >>> with llm.use(llm.DummyLLM(["hi"])):
    ...     llm.get_llm().complete("hello").text
    'hi'
    """
    return using(_ACTIVE, resolve(backend))


def set_default(backend: BackendSpec | None) -> LLM | None:
    """Set the process-wide backend used outside any ``use()`` block (``None`` clears it).

    Returns the previous default.
    """
    new = None if backend is None else resolve(backend)
    with _lock:
        old, _state["default"] = _state["default"], new
    return old


def get_llm(explicit: BackendSpec | None = None) -> LLM:
    """The backend a call made here would use (see the module docstring for the order).

    >>> import trace_opt.llm as llm
    >>> dummy = llm.DummyLLM()
    >>> llm.get_llm(dummy) is dummy
    True
    """
    if explicit is not None:
        return resolve(explicit)
    active = _ACTIVE.get()
    if active is not None:
        return active
    with _lock:
        default = _state["default"]
        if default is not None:
            return default
        env = os.environ.get("TRACE_OPT_LLM", "").strip()
        if env:
            if env not in _from_env:
                _from_env[env] = resolve(env)
            return _from_env[env]
        fallback = _state["fallback"]
        if fallback is None:
            fallback = _state["fallback"] = LocalLLM()
        return fallback


configure_factory(get_llm)
