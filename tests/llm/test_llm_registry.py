"""Backend selection: explicit > use() > set_default() > TRACE_OPT_LLM > local."""

from __future__ import annotations

import contextvars
import threading

import pytest

import trace_opt.llm as llm
from trace_opt.llm import DummyLLM, LiteLLM, LocalLLM, get_llm, resolve, set_default, use


def test_use_sets_and_restores() -> None:
    a, b = DummyLLM(), DummyLLM()
    with use(a):
        assert get_llm() is a
        with use(b):
            assert get_llm() is b
        assert get_llm() is a


def test_explicit_beats_use_beats_default() -> None:
    a, b, c = DummyLLM(), DummyLLM(), DummyLLM()
    set_default(c)
    assert get_llm() is c
    with use(b):
        assert get_llm() is b
        assert get_llm(a) is a
    assert get_llm() is c


def test_default_is_visible_in_other_threads() -> None:
    d = DummyLLM()
    set_default(d)
    seen = []
    t = threading.Thread(target=lambda: seen.append(get_llm()))
    t.start()
    t.join()
    assert seen == [d]


def test_use_is_per_context() -> None:
    a = DummyLLM()
    ctx = contextvars.copy_context()
    with use(a):
        assert ctx.run(lambda: llm.registry._ACTIVE.get()) is None


def test_env_var_selects_a_litellm_model(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRACE_OPT_LLM", "openai/gpt-4o-mini")
    chosen = get_llm()
    assert isinstance(chosen, LiteLLM) and chosen.model == "openai/gpt-4o-mini"
    assert get_llm() is chosen  # one instance per env value


def test_env_var_local(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRACE_OPT_LLM", "local:/models/x.gguf")
    chosen = get_llm()
    assert isinstance(chosen, LocalLLM) and chosen.model_path.name == "x.gguf"


def test_fallback_is_the_local_model() -> None:
    assert isinstance(get_llm(), LocalLLM)


def test_strings_resolve_and_bad_specs_explain() -> None:
    assert isinstance(resolve("local"), LocalLLM)
    assert isinstance(resolve("anthropic/claude-3-5-haiku"), LiteLLM)
    with pytest.raises(TypeError, match="help:"):
        resolve(42)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        resolve("  ")


def test_set_default_returns_previous() -> None:
    a, b = DummyLLM(), DummyLLM()
    assert set_default(a) is None
    assert set_default(b) is a
    assert set_default(None) is b


def test_use_answers_calls_made_inside() -> None:
    with use(DummyLLM(["from use"])):
        assert llm.generate_text("q").data == "from use"
