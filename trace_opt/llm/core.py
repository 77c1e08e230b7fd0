"""The one call pipeline -- cache, context fit, budget, limits, retries, constraint checks -- for sync and async.

The pipeline is a generator that never blocks: whenever it needs the outside world it yields
an *effect* (make one backend attempt, sleep, wait for a rate-limit slot) and is resumed with
the result or has the failure thrown in. :func:`run_sync` performs effects by blocking,
:func:`run_async` by awaiting. So the logic exists once and ``complete`` / ``acomplete`` cannot
drift apart (Trace had two copy-pasted paths that did).

Before a request reaches a backend whose context window is known, it is fitted to it
(:func:`~trace_opt.llm.window.fit_context`): a prompt that leaves no room for a reply is refused with
``ContextWindowExceeded`` without a call, and ``max_tokens`` is capped to the room the prompt
leaves. The cache key is taken before the fit, so it does not depend on the tokenizer.
"""

from __future__ import annotations

import asyncio
import contextvars
import dataclasses
import inspect
import math
import threading
import time
from collections.abc import Generator
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from ..errors import ConstraintViolation, LLMTimeout
from ..secrets import logger, redact_exception, redact_text
from .budget import Estimate, active_trackers, reserve, settle
from .cache import get_cache
from .prompts import CONSTRAINT_FEEDBACK
from .request import Request
from .response import LLMResponse, Usage, estimate_tokens
from .retry import RetryPolicy, classify
from .window import excerpt, fit_context

if TYPE_CHECKING:
    from .limits import Limiter

__all__ = ["check_constraint", "pipeline", "run_async", "run_sync"]

log = logger("trace_opt.llm")


class Backend(Protocol):
    """What the pipeline uses of a backend (``trace_opt.llm.LLM`` is one).

    A protocol here, so ``base`` (which calls the pipeline) and ``core`` do not import each other."""

    retry: RetryPolicy
    timeout: float | None
    limiter: Limiter
    cost_per_token: tuple[float, float] | None
    constraint_attempts: int
    cacheable: bool
    native_timeout: ClassVar[bool]

    @property
    def model(self) -> str: ...

    @property
    def context_window(self) -> int | None: ...

    def identity(self) -> dict[str, Any]: ...

    def enforces(self, constraint: Any) -> bool: ...

    def translate_error(self, exc: Exception) -> Exception: ...

    def count_tokens(self, messages: Any) -> int: ...

    def estimate_cost(self, prompt_tokens: int, completion_tokens: int) -> float | None: ...

    def _call(self, request: Request) -> Any: ...

    def _acall(self, request: Request) -> Any: ...


@dataclasses.dataclass(frozen=True)
class _Invoke:
    request: Request


@dataclasses.dataclass(frozen=True)
class _Sleep:
    seconds: float


_ACQUIRE = object()
Effect = Any  # _Invoke | _Sleep | _ACQUIRE
Pipeline = Generator[Effect, Any, LLMResponse]


def check_constraint(constraint: Any, text: str) -> tuple[bool, str]:
    """Run ``constraint.check(text)`` and return ``(ok, reason)`` whatever shape it answers in."""
    result = constraint.check(text)
    if isinstance(result, tuple):
        ok, reason = bool(result[0]), str(result[1] or "")
    else:
        ok = bool(result)
        reason = str(getattr(result, "reason", "") or "")
    return ok, reason


def _describe(constraint: Any) -> str:
    describe = getattr(constraint, "describe", None)
    return str(describe()) if callable(describe) else repr(constraint)


def pipeline(llm: Backend, request: Request) -> Pipeline:
    """Answer ``request``; with a constraint the backend cannot enforce, check and re-ask."""
    constraint = request.constraint
    if constraint is None:
        return (yield from _cached(llm, request))
    enforced = llm.enforces(constraint)
    attempts = 1 if enforced else llm.constraint_attempts
    messages = request.messages
    attempt = 1
    while True:
        response = yield from _cached(llm, dataclasses.replace(request, messages=messages))
        ok, reason = check_constraint(constraint, response.text)
        if ok:
            return response
        log.info("reply violates %s (attempt %d/%d): %s", _describe(constraint), attempt, attempts, reason)
        if attempt >= attempts:
            break
        attempt += 1
        feedback = CONSTRAINT_FEEDBACK.format(constraint=_describe(constraint), reason=reason or "it does not match")
        # From the original messages each time, with the reply cut short: re-asks never grow.
        messages = (*request.messages, {"role": "assistant", "content": excerpt(response.text)},
                    {"role": "user", "content": feedback})  # fmt: skip
    hint = (
        "raise max_tokens: the reply was cut before the grammar completed"
        if enforced
        else "use a stronger model, simplify the constraint, or raise constraint_attempts"
    )
    raise ConstraintViolation(
        f"{llm!r} gave no reply satisfying {_describe(constraint)} in {attempts} attempt(s): {reason}",
        output=response.text,
        constraint=constraint,
        hint=hint,
    )


def _cached(llm: Backend, request: Request) -> Pipeline:
    cache = get_cache() if llm.cacheable else None
    key = None
    if cache is not None and cache.mode != "off":
        identity = llm.identity()
        key = request.key(identity)
        hit = cache.get(key)
        if hit is not None:
            settle(active_trackers(), None, hit)
            return hit
    asked = request
    request, prompt = fit_context(llm, request)
    trackers = active_trackers()
    est = None
    if trackers:
        prompt = llm.count_tokens(request.messages) if prompt is None else prompt
        completion = int(request.params.get("max_tokens") or 0)
        est = Estimate(prompt + completion, llm.estimate_cost(prompt, completion) or 0.0)
        reserve(est)
    try:
        response = yield from _attempts(llm, request)
    except BaseException:
        settle(trackers, est, None)
        raise
    settle(trackers, est, response)
    if key is not None and cache is not None:
        stored = response if (text := redact_text(response.text)) == response.text else dataclasses.replace(response, text=text)
        cache.put(key, stored, asked.record(identity))
    return response


def _attempts(llm: Backend, request: Request) -> Pipeline:
    policy = llm.retry
    limited = llm.limiter.active
    attempt = 0
    while True:
        attempt += 1
        if limited:
            yield _ACQUIRE
        try:
            raw = yield _Invoke(request)
        except Exception as e:
            if not policy.should_retry(e, attempt):
                raise
            delay = policy.delay(attempt, e)
            log.warning("%r attempt %d failed (%s); retrying in %.2fs", llm, attempt, type(e).__name__, delay)
        else:
            return _normalize(llm, request, raw)
        finally:
            if limited:
                llm.limiter.release()
        yield _Sleep(delay)


def _normalize(llm: Backend, request: Request, raw: Any) -> LLMResponse:
    if isinstance(raw, str):
        resp = LLMResponse(raw, model=llm.model, usage=Usage(llm.count_tokens(request.messages), estimate_tokens(raw)))
    elif isinstance(raw, LLMResponse):
        resp = raw if raw.model else dataclasses.replace(raw, model=llm.model)
    else:
        raise TypeError(
            f"{llm!r} returned a {type(raw).__name__}: {raw!r}\nhelp: a backend call must return a str or an LLMResponse"
        )
    if resp.cost is None and llm.cost_per_token is not None:
        resp = dataclasses.replace(resp, cost=llm.estimate_cost(resp.usage.prompt_tokens, resp.usage.completion_tokens))
    return resp


def _translate(llm: Backend, exc: Exception) -> BaseException:
    new = classify(llm.translate_error(exc))
    if new is not exc and new.__cause__ is None:
        new.__cause__ = exc
    return redact_exception(new)  # a provider error may echo the key it was sent


# -- the blocking driver ---------------------------------------------------------------------


def run_sync(llm: Backend, gen: Pipeline) -> LLMResponse:
    """Drive ``gen`` to completion in this thread."""
    value: Any = None
    error: BaseException | None = None
    try:
        while True:
            try:
                effect = gen.send(value) if error is None else gen.throw(error)
            except StopIteration as stop:
                return stop.value  # type: ignore[no-any-return]
            value = error = None
            if effect is _ACQUIRE:
                _acquire_sync(llm.limiter)
            elif type(effect) is _Sleep:
                _sleep_sync(llm, effect.seconds)
            else:
                try:
                    value = _invoke_sync(llm, effect.request)
                except Exception as e:
                    error = _translate(llm, e)
    finally:
        gen.close()


def _acquire_sync(limiter: Limiter) -> None:
    event = threading.Event()
    while (wait := limiter.try_acquire(event.set)) is not None:
        event.wait(None if wait == math.inf else wait)
        event.clear()


def _sleep_sync(llm: Backend, seconds: float) -> None:
    sleep = llm.retry.sleep
    if sleep is None:
        time.sleep(seconds)
    else:
        sleep(seconds)


def _invoke_sync(llm: Backend, request: Request) -> Any:
    timeout = request.timeout or llm.timeout
    if timeout is None or llm.native_timeout:
        return llm._call(request)
    # A blocking call cannot be interrupted: run it in a daemon thread and stop waiting for it.
    # The abandoned thread finishes (or not) on its own; daemon, so it never blocks exit.
    box: list[Any] = []
    done = threading.Event()
    ctx = contextvars.copy_context()

    def work() -> None:
        try:
            box.append((True, ctx.run(llm._call, request)))
        except BaseException as e:
            box.append((False, e))
        finally:
            done.set()

    threading.Thread(target=work, name="trace_opt-llm-call", daemon=True).start()
    if not done.wait(timeout):
        raise LLMTimeout(f"{llm!r} did not answer within {timeout}s", hint="raise timeout= or use a faster model")
    ok, result = box[0]
    if not ok:
        raise result
    return result


# -- the asyncio driver ----------------------------------------------------------------------


async def run_async(llm: Backend, gen: Pipeline) -> LLMResponse:
    """Drive ``gen`` to completion on the running event loop."""
    value: Any = None
    error: BaseException | None = None
    try:
        while True:
            try:
                effect = gen.send(value) if error is None else gen.throw(error)
            except StopIteration as stop:
                return stop.value  # type: ignore[no-any-return]
            value = error = None
            if effect is _ACQUIRE:
                await _acquire_async(llm.limiter)
            elif type(effect) is _Sleep:
                await _sleep_async(llm, effect.seconds)
            else:
                try:
                    value = await _invoke_async(llm, effect.request)
                except Exception as e:
                    error = _translate(llm, e)
    finally:
        gen.close()


async def _acquire_async(limiter: Limiter) -> None:
    loop = asyncio.get_running_loop()
    while True:
        fut: asyncio.Future[None] = loop.create_future()

        def wake(fut: asyncio.Future[None] = fut) -> None:
            try:
                loop.call_soon_threadsafe(_resolve, fut)
            except RuntimeError:  # that loop is closed: nobody is waiting any more
                pass

        wait = limiter.try_acquire(wake)
        if wait is None:
            return
        if wait == math.inf:
            await fut
        else:
            await asyncio.sleep(wait)


def _resolve(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)


async def _sleep_async(llm: Backend, seconds: float) -> None:
    sleep = llm.retry.sleep
    if sleep is None:
        await asyncio.sleep(seconds)
        return
    result = sleep(seconds)
    if inspect.isawaitable(result):
        await result


async def _invoke_async(llm: Backend, request: Request) -> Any:
    timeout = request.timeout or llm.timeout
    if timeout is None or llm.native_timeout:
        return await llm._acall(request)
    try:
        return await asyncio.wait_for(llm._acall(request), timeout)
    except asyncio.TimeoutError:
        raise LLMTimeout(f"{llm!r} did not answer within {timeout}s", hint="raise timeout= or use a faster model") from None
