"""The backend interface: one ``LLM`` class whose subclasses only say how to make one call.

Everything around the call -- cache, budget, rate limits, retries, constraint checking -- is
written once in :mod:`trace_opt.llm.core` and driven either synchronously (``complete``) or
from asyncio (``acomplete``). A backend overrides ``_call`` (blocking) and/or ``_acall``
(native async); whichever it lacks is derived from the other.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from ..awaiting import run
from ..context import INSTRUMENTS, count_llm_call
from ..secrets import redactor
from .core import pipeline, run_async, run_sync
from .limits import Limiter
from .request import Message, Request, normalize_messages, split_params
from .response import LLMResponse, estimate_tokens
from .retry import RetryPolicy

if TYPE_CHECKING:
    from collections.abc import Awaitable

__all__ = ["LLM"]


class _Factory(type):
    """``LLM()`` with no arguments is the backend configured for this place (what
    ``get_llm()`` returns: ``use()`` block, ``set_default``, ``TRACE_OPT_LLM``, the embedded
    model), as Trace's ``LLM()`` factory is. Any other call builds an instance as usual.

    The registry builds on this class (it names the backends), so this module cannot import
    it: ``llm.registry`` plugs its ``get_llm`` in as ``configured`` when it is imported, which
    the ``trace_opt.llm`` package does before anyone can reach ``LLM``."""

    configured: Callable[[], Any] | None = None

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        if cls is LLM and not args and not kwargs:
            if _Factory.configured is None:  # only if llm.base was loaded without its package
                raise RuntimeError("LLM() needs trace_opt.llm imported: import trace_opt.llm first")
            return _Factory.configured()
        return super().__call__(*args, **kwargs)


def configure_factory(get_llm: Callable[[], Any]) -> None:
    """What ``LLM()`` with no arguments returns (``llm.registry`` sets its ``get_llm``)."""
    _Factory.configured = get_llm


class LLM(metaclass=_Factory):
    """Base class of every backend. Subclasses implement ``_call`` and/or ``_acall``.
    ``LLM()`` itself (no arguments) returns the configured default backend, as in Trace.

    Args:
        retry: how transient failures are retried (default: 4 attempts, exponential backoff).
        timeout: seconds one attempt may take before it counts as an ``LLMTimeout``.
        max_concurrency: at most this many calls of this backend in flight at once.
        rpm: at most this many calls started per minute.
        cost_per_token: ``(input, output)`` dollars per token, for backends that report no cost.
        constraint_attempts: how many replies to try when a constraint is checked after the fact.
        context_window: tokens the model can hold, prompt and reply together (default: what the
            backend reports -- llama.cpp's ``n_ctx``, litellm's model table -- or ``None``,
            unknown). Every call is fitted to it: a prompt that does not fit is refused before
            it is sent, and ``max_tokens`` is capped to what the prompt leaves.
        cacheable: whether answers go through the active cache (default: the class's choice;
            ``DummyLLM`` says no, since a script's replies depend on call order, not the request).
        **defaults: parameters sent with every call (``temperature=0``...), overridable per call.

    >>> from trace_opt.llm import FunctionLLM
    >>> llm = FunctionLLM(lambda messages, **p: messages[-1]["content"].upper())
    >>> llm.complete([{"role": "user", "content": "hi"}]).text
    'HI'
    """

    #: Short backend kind, part of every cache key (with :meth:`identity`).
    kind: ClassVar[str] = "llm"
    #: Default of ``cacheable`` for instances of this class.
    cacheable_by_default: ClassVar[bool] = True
    #: Whether ``_call`` applies ``request.timeout`` itself (else a worker thread enforces it).
    native_timeout: ClassVar[bool] = False

    def __init__(
        self,
        *,
        retry: RetryPolicy | None = None,
        timeout: float | None = None,
        max_concurrency: int | None = None,
        rpm: float | None = None,
        cost_per_token: tuple[float, float] | None = None,
        constraint_attempts: int = 3,
        context_window: int | None = None,
        cacheable: bool | None = None,
        **defaults: Any,
    ) -> None:
        if timeout is not None and timeout <= 0:
            raise ValueError(f"Invalid timeout: {timeout!r} (help: pass seconds > 0, or None for no limit)")
        if constraint_attempts < 1:
            raise ValueError(f"Invalid constraint_attempts: {constraint_attempts!r} (help: pass an int >= 1)")
        if context_window is not None and (isinstance(context_window, bool) or not isinstance(context_window, int)
                                           or context_window < 16):  # fmt: skip
            raise ValueError(f"Invalid context_window: {context_window!r} (help: pass tokens as an int >= 16, or None)")
        self.retry = retry or RetryPolicy()
        self.timeout = timeout
        self.limiter = Limiter(max_concurrency=max_concurrency, rpm=rpm)
        self.cost_per_token = cost_per_token
        self.constraint_attempts = constraint_attempts
        self.cacheable = type(self).cacheable_by_default if cacheable is None else cacheable
        self._context_window = context_window
        self.defaults: dict[str, Any] = dict(defaults)

    # -- what subclasses provide ---------------------------------------------------------

    @property
    def model(self) -> str:
        """The model name reported in responses and cache keys."""
        return self.kind

    def identity(self) -> dict[str, Any]:
        """What makes this backend's answers differ from another's: part of the cache key.

        Never includes credentials or endpoints, so caches are shareable.
        """
        return {"backend": self.kind, "model": self.model}

    def enforces(self, constraint: Any) -> bool:
        """Whether this backend guarantees ``constraint`` while decoding (no check-and-retry)."""
        return False

    def _call(self, request: Request) -> LLMResponse | str:
        """One blocking attempt. Default: run ``_acall`` on a private event loop."""
        if type(self)._acall is LLM._acall:
            raise NotImplementedError(f"{type(self).__name__} must implement _call or _acall")
        return run(self._acall(request))

    def _acall(self, request: Request) -> Awaitable[LLMResponse | str]:
        """One async attempt. Default: ``_call`` in a worker thread (contextvars copied)."""
        return asyncio.to_thread(self._call, request)

    def translate_error(self, exc: Exception) -> Exception:
        """Map a backend-specific exception onto the trace_opt error tree (see ``retry.classify``)."""
        return exc

    @property
    def context_window(self) -> int | None:
        """Tokens the model holds, prompt and reply together; ``None`` when unknown.

        >>> from trace_opt.llm import DummyLLM
        >>> DummyLLM(context_window=512).context_window, DummyLLM().context_window
        (512, None)
        """
        return self._context_window if self._context_window is not None else self._native_context_window()

    def _native_context_window(self) -> int | None:
        """What the backend itself knows of its context size (subclasses override)."""
        return None

    def count_tokens(self, messages: Sequence[Message]) -> int:
        """Prompt tokens of ``messages``: for budgets, and to fit a call into the context window.

        This default is an estimate (4 characters a token, plus 4 per message); backends with a
        tokenizer (llama.cpp, litellm's ``token_counter``) count exactly.
        """
        return sum(estimate_tokens(str(m.get("content", ""))) + 4 for m in messages)

    def estimate_cost(self, prompt_tokens: int, completion_tokens: int) -> float | None:
        """Dollars for a call of this size, or ``None`` when prices are unknown."""
        if self.cost_per_token is None:
            return None
        inp, out = self.cost_per_token
        return prompt_tokens * inp + completion_tokens * out

    # -- the public calls ----------------------------------------------------------------

    def effective_params(self, params: dict[str, Any]) -> dict[str, Any]:
        """The parameters a call with ``params`` sends and keys: defaults merged, no credentials."""
        return split_params({**self.defaults, **params})[0]

    def request(
        self,
        messages: str | Sequence[Message],
        *,
        constraint: Any = None,
        sample_id: int | str | None = None,
        rollout: str | None = None,
        **params: Any,
    ) -> Request:
        """Build the canonical :class:`Request` a call with these arguments makes.

        Known secrets (``trace_opt.secrets``) in the messages and parameters are replaced by
        ``[redacted]`` here, the one place every prompt passes before it leaves the process.
        """
        semantic, transport = split_params({**self.defaults, **_decoding_params(constraint), **params})
        table = redactor()
        return Request(
            messages=table.obj(normalize_messages(messages)),
            params=table.obj(semantic),
            constraint=constraint,
            sample_id=sample_id,
            rollout=rollout,
            transport=transport,
        )

    def complete(
        self,
        messages: str | Sequence[Message],
        *,
        constraint: Any = None,
        sample_id: int | str | None = None,
        rollout: str | None = None,
        **params: Any,
    ) -> LLMResponse:
        """Answer ``messages`` (a string is one user message), going through cache, budget and retries.

        ``sample_id`` asks for a distinct sample of the same request; ``rollout`` names where
        in a run the call is made (see :class:`Request`). Both are part of the cache key.

        >>> from trace_opt.llm import DummyLLM
        >>> DummyLLM(["4"]).complete("2+2?").text
        '4'
        """
        req = self.request(messages, constraint=constraint, sample_id=sample_id, rollout=rollout, **params)
        count_llm_call(self.model)  # so a bundled function that asked shows it (its node's info["llm_calls"])
        if INSTRUMENTS.active is not None:
            return INSTRUMENTS.active.llm_call(self, req, lambda: run_sync(self, pipeline(self, req)))  # type: ignore[no-any-return]
        return run_sync(self, pipeline(self, req))

    async def acomplete(
        self,
        messages: str | Sequence[Message],
        *,
        constraint: Any = None,
        sample_id: int | str | None = None,
        rollout: str | None = None,
        **params: Any,
    ) -> LLMResponse:
        """The async twin of :meth:`complete` (same cache, budget, retries, limits).

        >>> import asyncio
        >>> from trace_opt.llm import DummyLLM
        >>> asyncio.run(DummyLLM(["ok"]).acomplete("ping")).text
        'ok'
        """
        req = self.request(messages, constraint=constraint, sample_id=sample_id, rollout=rollout, **params)
        count_llm_call(self.model)
        if INSTRUMENTS.active is not None:
            return await INSTRUMENTS.active.allm_call(self, req, lambda: run_async(self, pipeline(self, req)))  # type: ignore[no-any-return]
        return await run_async(self, pipeline(self, req))

    def __repr__(self) -> str:
        return f"{type(self).__name__}(model={self.model!r})"

    # -- copies ----------------------------------------------------------------------------

    def __getstate__(self) -> dict[str, Any]:
        """State for ``copy.deepcopy`` (and pickle): locks are not copied but made anew, so a
        copy never shares one with its original (and can be made while the original is busy);
        the limiter starts the copy with its own free slots."""
        return {k: (_FreshLock if isinstance(v, _LOCK_TYPE) else v) for k, v in self.__dict__.items()}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update({k: (threading.Lock() if v is _FreshLock else v) for k, v in state.items()})


_LOCK_TYPE = type(threading.Lock())


class _FreshLock:
    """Stands for "a new lock" in a copied backend's state (a class: copies keep it as is)."""


def _decoding_params(constraint: Any) -> dict[str, Any]:
    """Sampling parameters a constraint implies: ``Stop`` -> ``stop``, ``MaxTokens`` -> ``max_tokens``.

    Every backend understands these, so such constraints hold by construction instead of by
    check-and-retry. Explicit parameters of the call still win.
    """
    kind = getattr(constraint, "kind", None)
    if kind == "stop":
        return {"stop": list(constraint.strings)}
    if kind == "max_tokens":
        return {"max_tokens": constraint.n}
    return {}
