"""Backends made of Python: ``FunctionLLM`` wraps a callable, ``DummyLLM`` replays a script.

They ship in the package, like httpx's ``MockTransport``, so programs and optimizers are
tested offline with the very same pipeline (cache, budget, retries, constraints) a hosted
model goes through.
"""

from __future__ import annotations

import inspect
import itertools
import threading
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from ..errors import PermanentLLMError
from ..awaiting import run
from .base import LLM
from .request import Request
from .response import LLMResponse

__all__ = ["DummyLLM", "FunctionLLM"]

Reply = str | LLMResponse
# Process-unique ids (unlike id(), never reused) for unnamed backends' cache keys.
_INSTANCES = itertools.count(1)


def _accepts(fn: Callable[..., Any], name: str) -> bool:
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return False
    return any(p.name == name and p.kind is not p.VAR_POSITIONAL for p in params)


class FunctionLLM(LLM):
    """A backend that calls ``fn(messages, **params)``, sync or async, returning str or LLMResponse.

    ``fn`` also receives ``sample_id=`` / ``constraint=`` if its signature names them.
    ``name`` is the model name in cache keys: give one to share cached answers across
    instances and processes (e.g. a disk cache). Without it the cache key is unique to this
    instance, so two lambdas never answer for each other.

    >>> from trace_opt.llm import FunctionLLM
    >>> echo = FunctionLLM(lambda messages, **params: messages[-1]["content"], name="echo")
    >>> echo.complete("hello").text
    'hello'
    """

    kind = "function"

    def __init__(self, fn: Callable[..., Reply | Awaitable[Reply]], *, name: str | None = None, **kwargs: Any) -> None:
        if not callable(fn):
            raise TypeError(f"Invalid fn: {fn!r} is not callable\nhelp: pass fn(messages, **params) -> str")
        super().__init__(**kwargs)
        self.fn = fn
        self.name: str = name or getattr(fn, "__qualname__", None) or type(fn).__name__
        self._instance = None if name else next(_INSTANCES)
        self._is_async = inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(getattr(fn, "__call__", None))
        self._pass_sample = _accepts(fn, "sample_id")
        self._pass_constraint = _accepts(fn, "constraint")

    @property
    def model(self) -> str:
        return self.name

    def identity(self) -> dict[str, Any]:
        ident = super().identity()
        return ident if self._instance is None else {**ident, "instance": self._instance}

    def _kwargs(self, request: Request) -> dict[str, Any]:
        kw = dict(request.params)
        if self._pass_sample:
            kw["sample_id"] = request.sample_id
        if self._pass_constraint:
            kw["constraint"] = request.constraint
        return kw

    def _call(self, request: Request) -> Any:
        result = self.fn([dict(m) for m in request.messages], **self._kwargs(request))
        if inspect.isawaitable(result):
            return run(result)  # an async fn called from sync code
        return result

    async def _acall(self, request: Request) -> Any:  # type: ignore[override]
        if not self._is_async:
            return await super()._acall(request)
        return await self.fn([dict(m) for m in request.messages], **self._kwargs(request))  # type: ignore[misc]


class DummyLLM(LLM):
    """Scripted replies, one per call, in order; every request is kept in ``.calls``.

    An item may be a string, an :class:`LLMResponse`, or an exception instance to raise (to
    test retries). When the script runs out, ``default`` is returned if given, else a
    ``PermanentLLMError`` says how many calls were made.

    A script's replies follow call order, not the request, so a dummy bypasses the cache
    unless built with ``cacheable=True`` (then, unnamed, it has cache keys of its own).

    >>> from trace_opt.llm import DummyLLM
    >>> llm = DummyLLM(["yes", "no"])
    >>> [llm.complete("q", sample_id=i).text for i in range(2)]
    ['yes', 'no']
    >>> llm.calls[0].messages[0]["content"]
    'q'
    """

    kind = "dummy"
    cacheable_by_default = False

    def __init__(
        self, responses: Iterable[Reply | BaseException] = (), *, default: Reply | None = None, name: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.responses = list(responses)
        self.default = default
        self.name = name or "dummy"
        self._instance = None if name else next(_INSTANCES)
        self.calls: list[Request] = []
        self._lock = threading.Lock()

    @property
    def model(self) -> str:
        return self.name

    @property
    def remaining(self) -> int:
        """Scripted replies not yet used."""
        return len(self.responses) - len(self.calls)

    def _call(self, request: Request) -> Reply:
        with self._lock:
            i = len(self.calls)
            self.calls.append(request)
        if i < len(self.responses):
            item = self.responses[i]
        elif self.default is not None:
            item = self.default
        else:
            raise PermanentLLMError(
                f"DummyLLM ran out of scripted responses: call #{i + 1} but only {len(self.responses)} given",
                hint="add responses, pass default=..., or check for unexpected extra calls (is the cache off?)",
            )
        if isinstance(item, BaseException):
            raise item
        return item

    def identity(self) -> dict[str, Any]:
        ident = super().identity()
        return ident if self._instance is None else {**ident, "instance": self._instance}
