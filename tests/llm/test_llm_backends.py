"""The backend contract, run over FunctionLLM (sync and async) and DummyLLM."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from trace_opt.errors import BadRequestError, PermanentLLMError, SerializationError
from trace_opt.llm import LLM, DummyLLM, FunctionLLM, LLMResponse, Usage


def _sync_echo(messages: list[dict[str, Any]], **params: Any) -> str:
    return "echo:" + messages[-1]["content"]


async def _async_echo(messages: list[dict[str, Any]], **params: Any) -> str:
    await asyncio.sleep(0)
    return "echo:" + messages[-1]["content"]


def _dummy_echo() -> LLM:
    return DummyLLM(default="echo:hello", cacheable=True)


BACKENDS: dict[str, Callable[[], LLM]] = {
    "function-sync": lambda: FunctionLLM(_sync_echo),
    "function-async": lambda: FunctionLLM(_async_echo),
    "dummy": _dummy_echo,
}


@pytest.fixture(params=sorted(BACKENDS))
def backend(request: pytest.FixtureRequest) -> LLM:
    return BACKENDS[request.param]()


def test_complete_returns_a_response(backend: LLM) -> None:
    resp = backend.complete("hello")
    assert isinstance(resp, LLMResponse)
    assert resp.text == "echo:hello"
    assert resp.model == backend.model
    assert resp.finish_reason == "stop"
    assert resp.usage.prompt_tokens > 0 and resp.usage.completion_tokens > 0
    assert resp.cached is False


def test_acomplete_matches_complete(backend: LLM) -> None:
    resp = asyncio.run(backend.acomplete([{"role": "user", "content": "hello"}], sample_id=1))
    assert resp.text == "echo:hello"


def test_messages_are_validated(backend: LLM) -> None:
    with pytest.raises(TypeError, match="help:"):
        backend.complete([{"content": "no role"}])
    with pytest.raises(ValueError, match="empty"):
        backend.complete([])


def test_params_must_be_json(backend: LLM) -> None:
    with pytest.raises(SerializationError):
        backend.complete("hello", temperature=object())


def test_function_llm_passes_params_and_sample_id() -> None:
    seen: list[dict[str, Any]] = []

    def fn(messages: list[dict[str, Any]], sample_id: int | None = None, **params: Any) -> str:
        seen.append({"sample_id": sample_id, **params})
        return f"s{sample_id}"

    llm = FunctionLLM(fn, temperature=0.5)
    assert llm.complete("q", sample_id=3, max_tokens=7).text == "s3"
    assert seen == [{"sample_id": 3, "temperature": 0.5, "max_tokens": 7}]


def test_function_llm_may_return_a_full_response() -> None:
    llm = FunctionLLM(lambda m, **p: LLMResponse("x", usage=Usage(3, 1), cost=0.25, finish_reason="length"))
    resp = llm.complete("q")
    assert (resp.text, resp.usage, resp.cost, resp.finish_reason) == ("x", Usage(3, 1), 0.25, "length")
    assert resp.model == llm.model  # filled in when the function leaves it empty


def test_function_llm_rejects_other_return_types() -> None:
    with pytest.raises(TypeError, match="str or an LLMResponse"):
        FunctionLLM(lambda m, **p: 42).complete("q")


def test_function_llm_needs_a_callable() -> None:
    with pytest.raises(TypeError, match="not callable"):
        FunctionLLM("not a function")  # type: ignore[arg-type]


def test_user_bugs_propagate_unchanged_and_are_not_retried() -> None:
    calls = []

    def broken(messages: list[dict[str, Any]], **params: Any) -> str:
        calls.append(1)
        raise KeyError("bug")

    with pytest.raises(KeyError):
        FunctionLLM(broken).complete("q")
    assert len(calls) == 1


def test_dummy_replays_script_and_records_calls() -> None:
    llm = DummyLLM(["a", LLMResponse("b", cost=0.5)])
    assert llm.complete("one").text == "a"
    assert llm.complete("two").cost == 0.5
    assert [c.messages[-1]["content"] for c in llm.calls] == ["one", "two"]
    assert llm.remaining == 0


def test_dummy_says_clearly_when_it_runs_out() -> None:
    llm = DummyLLM(["only"])
    llm.complete("one")
    with pytest.raises(PermanentLLMError, match="ran out of scripted responses: call #2") as info:
        llm.complete("two")
    assert "help:" in str(info.value)


def test_dummy_can_raise_scripted_errors() -> None:
    llm = DummyLLM([BadRequestError("nope")])
    with pytest.raises(BadRequestError, match="nope"):
        llm.complete("q")
    assert len(llm.calls) == 1  # permanent: not retried


def test_cost_per_token_prices_string_replies() -> None:
    llm = FunctionLLM(lambda m, **p: "abcd" * 2, cost_per_token=(0.001, 0.002))
    resp = llm.complete("abcdabcd")
    assert resp.cost == pytest.approx(resp.usage.prompt_tokens * 0.001 + resp.usage.completion_tokens * 0.002)


def test_invalid_options_raise_value_error() -> None:
    with pytest.raises(ValueError, match="timeout"):
        DummyLLM(timeout=0)
    with pytest.raises(ValueError, match="constraint_attempts"):
        DummyLLM(constraint_attempts=0)
    with pytest.raises(ValueError, match="max_concurrency"):
        DummyLLM(max_concurrency=0)


def test_unnamed_backends_never_share_cache_entries() -> None:
    a = FunctionLLM(lambda m, **p: "a")
    b = FunctionLLM(lambda m, **p: "b")
    assert (a.complete("q").text, b.complete("q").text) == ("a", "b")


def test_named_backends_share_cache_entries() -> None:
    a = FunctionLLM(lambda m, **p: "a", name="shared")
    b = FunctionLLM(lambda m, **p: "b", name="shared")
    assert (a.complete("q").text, b.complete("q").text) == ("a", "a")
