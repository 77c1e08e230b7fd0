"""Trace parity of backends and optimizers (issue 13, item 7): ``copy.deepcopy`` works on
every LLM backend and every optimizer, with locks and limiter state made anew, and ``LLM()``
is the configured default backend, as Trace's factory is."""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

import optimizers
import trace_opt as trace
from trace_opt.llm import LLM, DummyLLM, FaultyLLM, FunctionLLM, LiteLLM, LocalLLM, set_default, use

BACKENDS: dict[str, Callable[[], LLM]] = {
    "FunctionLLM": lambda: FunctionLLM(lambda messages, **p: "ok", max_concurrency=2),
    "DummyLLM": lambda: DummyLLM(["one", "two"], max_concurrency=2, rpm=60),
    "FaultyLLM": lambda: FaultyLLM(DummyLLM(["one"]), rate=0.0, max_concurrency=2),
    "LiteLLM": lambda: LiteLLM("openai/gpt-4o-mini", mock_response="hi", max_concurrency=2),
    "LocalLLM": lambda: LocalLLM(max_concurrency=2),  # not loaded: copying never loads a model
}

_LOCK = type(threading.Lock())


def _locks(obj: Any) -> list[Any]:
    return [v for v in vars(obj).values() if isinstance(v, _LOCK)]


@pytest.mark.parametrize("name", sorted(BACKENDS))
def test_deepcopy_of_every_backend_has_its_own_locks_and_limiter(name: str) -> None:
    llm = BACKENDS[name]()
    # Copying while the original holds its limiter lock and a call slot must not deadlock or
    # inherit the held state.
    assert llm.limiter.try_acquire(lambda: None) is None
    with llm.limiter._lock:
        dup = copy.deepcopy(llm)
    assert type(dup) is type(llm) and dup is not llm
    assert dup.limiter is not llm.limiter and dup.limiter._lock is not llm.limiter._lock
    assert dup.limiter.max_concurrency == 2 and dup.limiter.in_flight == 0 and llm.limiter.in_flight == 1
    assert not {id(lock) for lock in _locks(dup)} & {id(lock) for lock in _locks(llm)}
    assert len(_locks(dup)) == len(_locks(llm))
    assert dup.identity() == llm.identity()
    llm.limiter.release()


def test_a_copied_dummy_keeps_its_own_call_record() -> None:
    llm = DummyLLM(["one", "two"])
    assert llm.complete("a").text == "one"
    dup = copy.deepcopy(llm)
    assert dup.complete("b").text == "two" and llm.complete("c").text == "two"
    assert len(dup.calls) == 2 and len(llm.calls) == 2


def test_a_copied_litellm_backend_still_answers() -> None:
    dup = copy.deepcopy(BACKENDS["LiteLLM"]())
    assert dup.complete("hello").text == "hi"


@dataclass
class Settings:
    temperature: float


def _optimizers(params: list[Any], llm: LLM) -> dict[str, Any]:
    return {
        "OptoPrime": optimizers.OptoPrime(params, llm=llm),
        "OPRO": optimizers.OPRO(params, llm=llm),
        "TextGrad": optimizers.TextGrad(params, llm=llm),
        "BeamSearch": optimizers.BeamSearch(),
        "GEPA": optimizers.GEPA(),
        "PrioritySearch": optimizers.PrioritySearch(),
        "MetaOptimizer": optimizers.MetaOptimizer(lambda x, h: x, lambda x, r: 1.0, Settings(0.5), [1.0], llm=llm),
    }


@pytest.mark.parametrize(
    "name", ["OptoPrime", "OPRO", "TextGrad", "BeamSearch", "GEPA", "PrioritySearch", "MetaOptimizer"]
)
def test_deepcopy_of_every_optimizer(name: str) -> None:
    x = trace.node("x", trainable=True)
    llm = DummyLLM(["{}"], max_concurrency=1)
    opt = _optimizers([x], llm)[name]
    dup = copy.deepcopy(opt)
    assert type(dup) is type(opt)
    if isinstance(opt, optimizers.Optimizer):
        assert dup.parameters[0] is not x and dup.parameters[0].data == "x"
    held = [v for v in vars(dup).values() if isinstance(v, LLM)]
    assert all(h is not llm and h.limiter._lock is not llm.limiter._lock for h in held)


def test_deepcopy_of_an_optimizer_after_backward() -> None:
    x = trace.node("x", trainable=True)
    opt = optimizers.OptoPrime([x], llm=DummyLLM(["{}"]))
    opt.zero_feedback()
    opt.backward(x + "!", "louder")
    dup = copy.deepcopy(opt)
    assert dup.parameters[0].data == "x"


def test_llm_with_no_arguments_is_the_configured_default(clean_llm_state: Any) -> None:
    scripted = DummyLLM(["hi"])
    with use(scripted):
        assert LLM() is scripted
    default = DummyLLM(["default"])
    set_default(default)
    try:
        assert LLM() is default
        assert copy.deepcopy(LLM()) is not default
    finally:
        set_default(None)
    assert isinstance(LLM(), LocalLLM)  # nothing configured: the embedded model (not loaded)


def test_llm_subclasses_and_arguments_build_instances_as_usual() -> None:
    assert isinstance(DummyLLM(), DummyLLM)
    base = LLM(timeout=5)
    assert type(base) is LLM and base.timeout == 5
